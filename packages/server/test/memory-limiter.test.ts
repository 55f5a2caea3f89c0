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
      { requests: ok, events: ok, maxAddresses: 0 },
      { requests: ok, events: ok, addressPercent: 0 },
      { requests: ok, events: ok, addressPercent: 101 },
      { requests: ok, events: ok, addressPercent: 12.5 },
    ];
    for (const options of bad) {
      assert.throws(() => new MemoryRateLimiter(options as never), /rate limit: (requests|events|maxKeys|maxAddresses|addressPercent)/, JSON.stringify(options));
    }
    const limiter = new MemoryRateLimiter({ requests: ok, events: ok });
    assert.throws(() => limiter.take('k', -1), /events must be a non-negative integer/);
    assert.throws(() => limiter.take('k', 0.5), /events must be a non-negative integer/);
  });

  describe('a client address held to its share of a key\'s budgets', () => {
    const budgets = { requests: { limit: 10, windowMs: 60_000 }, events: { limit: 1000, windowMs: 60_000 }, addressPercent: 20 };

    test('an address gets its share of requests, then 429s decided by the address while another address and the key still have room', async () => {
      const limiter = new MemoryRateLimiter(budgets);
      const a = [];
      for (let i = 0; i < 3; i++) a.push(await limiter.consume('k', 1, '192.0.2.1'));
      assert.deepEqual(a.map((d) => d.allowed), [true, true, false]);
      assert.deepEqual(a.map((d) => d.byAddress), [true, true, true], 'the address share is the tighter budget, so it is the one reported');
      assert.deepEqual(a.map((d) => [d.limit, d.remaining]), [[2, 1], [2, 0], [2, 0]]);
      assert.equal((await limiter.consume('k', 1, '192.0.2.2')).allowed, true, 'another address has its own share');
      // The refused request spent nothing of the key's: 10 - 2 - 1 = 7 requests are left for others.
      const keyOnly = await limiter.consume('k', 1);
      assert.equal(keyOnly.byAddress, false);
      assert.equal(keyOnly.remaining, 6);
    });

    test('the address share of events: a large batch from one address is refused, a small one from it still fits', async () => {
      const limiter = new MemoryRateLimiter(budgets);
      assert.equal((await limiter.consume('k', 150, '192.0.2.1')).allowed, true);
      const tooMany = await limiter.consume('k', 51, '192.0.2.1');
      assert.equal(tooMany.allowed, false);
      assert.equal(tooMany.byAddress, true);
      assert.equal(tooMany.limit, 200);
      assert.equal(tooMany.remaining, 50);
      assert.equal((await limiter.consume('k', 50, '192.0.2.1')).allowed, true);
    });

    test('the key\'s own budget still decides when it has less room than an address\'s share', async () => {
      const limiter = new MemoryRateLimiter(budgets);
      for (let i = 0; i < 10; i++) assert.equal((await limiter.consume('k', 1, `192.0.2.${i}`)).allowed, true);
      const denied = await limiter.consume('k', 1, '192.0.2.200');
      assert.equal(denied.allowed, false);
      assert.equal(denied.byAddress, false);
      assert.equal(denied.limit, 10);
    });

    test('the same address under two keys has two shares', async () => {
      const limiter = new MemoryRateLimiter(budgets);
      await limiter.consume('k1', 1, '192.0.2.1');
      await limiter.consume('k1', 1, '192.0.2.1');
      assert.equal((await limiter.consume('k1', 1, '192.0.2.1')).allowed, false);
      assert.equal((await limiter.consume('k2', 1, '192.0.2.1')).allowed, true);
    });

    test('an address\'s events share is never below the largest request; the key\'s own budget still caps it', async () => {
      const small = new MemoryRateLimiter({ ...budgets, requests: { limit: 1000, windowMs: 60_000 }, addressPercent: 10, events: { limit: 5000, windowMs: 60_000 }, largestRequestEvents: 1000 });
      const full = await small.consume('k', 1000, '192.0.2.1');
      assert.equal(full.allowed, true, '10% of 5,000 is 500: a full batch of 1,000 still fits');
      assert.deepEqual([full.byAddress, full.limit, full.remaining], [true, 1000, 0]);
      assert.equal((await small.consume('k', 1, '192.0.2.1')).allowed, false);
      const tiny = new MemoryRateLimiter({ ...budgets, addressPercent: 10, events: { limit: 300, windowMs: 60_000 }, largestRequestEvents: 1000 });
      const refused = await tiny.consume('k', 301, '192.0.2.1');
      assert.deepEqual([refused.allowed, refused.limit, refused.byAddress], [false, 300, false], 'the key\'s 300 events refuse, whatever the address\'s floor');
      assert.equal((await tiny.consume('k', 300, '192.0.2.1')).allowed, true);
    });

    test('a share of 100 per cent (the default) tracks no addresses', async () => {
      const limiter = new MemoryRateLimiter({ ...budgets, addressPercent: undefined });
      for (let i = 0; i < 10; i++) assert.equal((await limiter.consume('k', 1, '192.0.2.1')).allowed, true);
      assert.equal(limiter.addresses, 0);
    });

    test('a flood of new addresses forgets the oldest addresses, never a key\'s own count', async () => {
      const clock = fakeClock();
      const limiter = new MemoryRateLimiter({ ...budgets, requests: { limit: 1000, windowMs: 60_000 }, maxKeys: 2, maxAddresses: 50, now: clock.now });
      for (let i = 0; i < 500; i++) await limiter.consume('k', 1, `10.0.${i >> 8}.${i & 255}`);
      assert.equal(limiter.addresses, 50);
      assert.equal(limiter.size, 1);
      assert.equal((await limiter.consume('k', 1)).remaining, 1000 - 501, 'every request of the flood still counts against the key');
      clock.advance(60_000);
      await limiter.consume('k', 1, '10.9.9.9');
      assert.equal(limiter.addresses, 1, 'expired addresses are swept');
    });
  });
});
