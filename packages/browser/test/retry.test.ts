import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoff, retryAfterMs, retryable } from '../src/retry.ts';

test('backoff doubles per attempt, stays within [d/2, d] and is capped', () => {
  assert.equal(backoff(1, 1000, 60_000, () => 0), 500);
  assert.equal(backoff(1, 1000, 60_000, () => 1), 1000);
  assert.equal(backoff(3, 1000, 60_000, () => 1), 4000);
  assert.equal(backoff(20, 1000, 60_000, () => 1), 60_000);
  for (let i = 0; i < 100; i++) {
    const d = backoff(4, 100, 10_000);
    assert.ok(d >= 400 && d <= 800, `jittered delay ${d}`);
  }
});

test('Retry-After is read in seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(' 0.5 '), 500);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs(null), 0);
  assert.equal(retryAfterMs('2592000'), 600_000, 'at most 10 minutes: a timer of 2^31 ms or more fires at once, again and again');
  assert.equal(retryAfterMs('soon'), 0);
  assert.equal(retryAfterMs('Tue, 31 Dec 2024 00:00:00 GMT', now), 0, 'a date in the past means now');
});

test('408, 429 and 5xx are retried; other 4xx are definitive', () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(retryable(s), true, String(s));
  for (const s of [200, 204, 400, 401, 403, 404, 413, 415]) assert.equal(retryable(s), false, String(s));
});
