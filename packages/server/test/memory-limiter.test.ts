import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRateLimiter } from '../src/limits/memory-limiter.ts';

function fakeClock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

describe('MemoryRateLimiter', () => {
  test('allows exactly the request budget per window, then denies with the time to reset', async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ requests: { limit: 3, windowMs: 60_000 }, events: { limit: 1000, windowMs: 60_000 }, now: clock.now });
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await limiter.consume('k', 1));
    assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, false, false]);
    assert.deepEqual(decisions.slice(0, 3).map((d) => d.remaining), [2, 1, 0]);
    assert.equal(decisions[3].limit, 3);
    assert.equal(decisions[3].remaining, 0);
    assert.equal(decisions[3].resetMs, 60_000);
    clock.advance(15_000);
    assert.equal((await limiter.consume('k', 1)).resetMs, 45_000);
  });

  test('a new window starts when the old one has passed', async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ requests: { limit: 2, windowMs: 1000 }, events: { limit: 100, windowMs: 1000 }, now: clock.now });
    assert.equal((await limiter.consume('k', 1)).allowed, true);
    assert.equal((await limiter.consume('k', 1)).allowed, true);
    assert.equal((await limiter.consume('k', 1)).allowed, false);
    clock.advance(999);
    assert.equal((await limiter.consume('k', 1)).allowed, false);
    clock.advance(1);
    const fresh = await limiter.consume('k', 1);
    assert.equal(fresh.allowed, true);
    assert.equal(fresh.remaining, 1);
    assert.equal(fresh.resetMs, 1000);
  });

  test('keys have separate budgets', async () => {
    const limiter = new MemoryRateLimiter({ requests: { limit: 1, windowMs: 60_000 }, events: { limit: 10, windowMs: 60_000 } });
    assert.equal((await limiter.consume('a', 1)).allowed, true);
    assert.equal((await limiter.consume('a', 1)).allowed, false);
    assert.equal((await limiter.consume('b', 1)).allowed, true);
  });

  test('the event budget denies a request whose events do not fit, and a denied request spends nothing', async () => {
    const limiter = new MemoryRateLimiter({ requests: { limit: 100, windowMs: 60_000 }, events: { limit: 10, windowMs: 60_000 } });
    const first = await limiter.consume('k', 7);
    assert.equal(first.allowed, true);
    // events is the tighter budget now (3/10 left vs 99/100)
    assert.equal(first.limit, 10);
    assert.equal(first.remaining, 3);
    const tooMany = await limiter.consume('k', 4);
    assert.equal(tooMany.allowed, false);
    assert.equal(tooMany.limit, 10);
    assert.equal(tooMany.remaining, 3);
    // the denied 4 events and request were not counted: exactly 3 more events fit
    const rest = await limiter.consume('k', 3);
    assert.equal(rest.allowed, true);
    assert.equal(rest.remaining, 0);
    assert.equal((await limiter.consume('k', 1)).allowed, false);
    // a request with no events still needs request budget only
    assert.equal((await limiter.consume('k', 0)).allowed, true);
  });

  test('both budgets must have room: the request budget denies even when events fit', async () => {
    const limiter = new MemoryRateLimiter({ requests: { limit: 2, windowMs: 60_000 }, events: { limit: 1000, windowMs: 60_000 } });
    await limiter.consume('k', 1);
    await limiter.consume('k', 1);
    const denied = await limiter.consume('k', 1);
    assert.equal(denied.allowed, false);
    assert.equal(denied.limit, 2);
  });

  test('when both budgets deny, the decision waits for the one resetting last', async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ requests: { limit: 1, windowMs: 1000 }, events: { limit: 5, windowMs: 10_000 }, now: clock.now });
    assert.equal((await limiter.consume('k', 5)).allowed, true);
    const denied = await limiter.consume('k', 1);
    assert.equal(denied.allowed, false);
    assert.equal(denied.limit, 5);
    assert.equal(denied.resetMs, 10_000);
    // after the request window resets, events still have no room
    clock.advance(1000);
    const stillDenied = await limiter.consume('k', 1);
    assert.equal(stillDenied.allowed, false);
    assert.equal(stillDenied.limit, 5);
    assert.equal(stillDenied.resetMs, 9000);
  });

  test('expired keys are swept and maxKeys bounds memory', async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ requests: { limit: 1, windowMs: 1000 }, events: { limit: 10, windowMs: 1000 }, maxKeys: 50, now: clock.now });
    for (let i = 0; i < 200; i++) await limiter.consume(`ip-${i}`, 1);
    assert.equal(limiter.size, 50);
    // the newest keys are the ones kept
    assert.equal((await limiter.consume('ip-199', 1)).allowed, false);
    clock.advance(1000);
    await limiter.consume('fresh', 1);
    assert.equal(limiter.size, 1);
  });

  test('bad options and arguments are refused with a clear error', () => {
    const ok = { limit: 10, windowMs: 1000 };
    const bad: unknown[] = [
      { requests: { limit: 0, windowMs: 1000 }, events: ok },
      { requests: { limit: -1, windowMs: 1000 }, events: ok },
      { requests: { limit: Infinity, windowMs: 1000 }, events: ok },
      { requests: { limit: 1.5, windowMs: 1000 }, events: ok },
      { requests: ok, events: { limit: 10, windowMs: 0 } },
      { requests: ok, events: { limit: '10', windowMs: 1000 } },
      { requests: ok },
      { requests: ok, events: ok, maxKeys: 0 },
    ];
    for (const options of bad) {
      assert.throws(() => new MemoryRateLimiter(options as never), /rate limit: (requests|events|maxKeys)/, JSON.stringify(options));
    }
    const limiter = new MemoryRateLimiter({ requests: ok, events: ok });
    assert.throws(() => limiter.take('k', -1), /events must be a non-negative integer/);
    assert.throws(() => limiter.take('k', 0.5), /events must be a non-negative integer/);
  });
});
