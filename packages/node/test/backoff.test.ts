import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay } from '../src/backoff.ts';

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

test('Retry-After lengthens the backoff but never shortens it, and is bounded', () => {
  const half = () => 0.5;
  // 0, or a date already past (parsed as 0): the backoff still applies
  assert.equal(retryDelay(1, 0, 100, 30_000, half), 75);
  assert.equal(retryDelay(4, 0, 100, 30_000, half), 600);
  assert.equal(retryDelay(1, undefined, 100, 30_000, half), 75);
  // longer than the backoff: the server's wait, even beyond maxRetryDelayMs
  assert.equal(retryDelay(1, 5000, 100, 30_000, half), 5000);
  assert.equal(retryDelay(1, 120_000, 100, 30_000, half), 120_000);
  // days (setTimeout would fire a value ≥ 2^31 ms after 1 ms): capped
  assert.equal(retryDelay(1, 2 ** 31 + 1000, 100, 30_000, half), MAX_RETRY_AFTER_MS);
  assert.equal(retryDelay(1, Infinity, 100, 30_000, half), MAX_RETRY_AFTER_MS);
  // a maxRetryDelayMs above the cap raises it
  assert.equal(retryDelay(1, 2 ** 31, 100, 3_600_000, half), 3_600_000);
  assert.ok(MAX_RETRY_AFTER_MS < 2 ** 31);
});
