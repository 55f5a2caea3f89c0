import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, parseRetryAfter } from '../src/backoff.ts';

test('backoff doubles, is capped, and its jitter spans the upper half', () => {
  assert.equal(backoffDelay(1, 100, 30_000, () => 0), 50);
  assert.equal(backoffDelay(1, 100, 30_000, () => 1), 100);
  assert.equal(backoffDelay(4, 100, 30_000, () => 1), 800);
  assert.equal(backoffDelay(40, 100, 30_000, () => 1), 30_000);
  assert.equal(backoffDelay(40, 100, 30_000, () => 0), 15_000);
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(['0']), 0);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  const now = Date.parse('2024-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('Mon, 01 Jan 2023 00:00:05 GMT', now), 0);
});
