import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ChildRedis, needRedis } from '@inlet/testkit';
import { RedisRateLimiter } from '../src/limits/redis-limiter.ts';
import type { RateLimitDecision } from '../src/limits/rate-limiter.ts';

const redis = await needRedis();
const prefix = `inlet:test:rl:${randomBytes(6).toString('hex')}:`;
const minute = 60_000;

function recordingLogger() {
  const warn: string[] = [];
  const info: string[] = [];
  return { warn, info, logger: { warn: (m: string) => warn.push(m), info: (m: string) => info.push(m) } };
}

/** Fails (instead of hanging) when a decision takes longer than a generous bound. */
async function bounded(p: Promise<RateLimitDecision>, ms = 2000): Promise<RateLimitDecision> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`consume did not answer within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('RedisRateLimiter on a real Redis', { skip: redis.skip }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    if (redis.value) {
      const client = new Redis(redis.value);
      const keys = await client.keys(`${prefix}*`);
      if (keys.length) await client.del(...keys);
      client.disconnect();
    }
  });

  function limiter(options: Partial<ConstructorParameters<typeof RedisRateLimiter>[0]>): RedisRateLimiter {
    const l = new RedisRateLimiter({
      url: redis.value!,
      keyPrefix: prefix,
      requests: { limit: 1000, windowMs: minute },
      events: { limit: 100_000, windowMs: minute },
      logger: recordingLogger().logger,
      ...options,
    });
    cleanups.push(() => l.close());
    return l;
  }

  test('two limiters on one Redis together allow exactly the budget of one', async () => {
    const a = limiter({ requests: { limit: 5, windowMs: minute } });
    const b = limiter({ requests: { limit: 5, windowMs: minute } });
    // no waiting for the connection: the first decisions of a new limiter must already be shared
    const decisions = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).consume('shared-requests', 1)));
    assert.equal(decisions.filter((d) => d.allowed).length, 5);
    assert.ok(decisions.filter((d) => !d.allowed).every((d) => d.limit === 5 && d.remaining === 0 && d.resetMs > 0 && d.resetMs <= minute));
    assert.equal(a.shared && b.shared, true);

    const ea = limiter({ events: { limit: 100, windowMs: minute } });
    const eb = limiter({ events: { limit: 100, windowMs: minute } });
    await ea.connected();
    await eb.connected();
    const byEvents = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? ea : eb).consume('shared-events', 30)));
    assert.equal(byEvents.filter((d) => d.allowed).length, 3);
    // the 10 events left still fit a smaller request, on either instance
    const small = await ea.consume('shared-events', 10);
    assert.equal(small.allowed, true);
    assert.equal(small.remaining, 0);
    assert.equal((await eb.consume('shared-events', 1)).allowed, false);
  });

  test('a first decision slower than the steady-state bound still comes from Redis', async () => {
    // Connecting and loading the script take longer than 1 ms; only the warm-up bound may apply.
    const a = limiter({ requests: { limit: 1, windowMs: minute }, commandTimeoutMs: 1 });
    const b = limiter({ requests: { limit: 1, windowMs: minute }, commandTimeoutMs: 1 });
    const first = await a.consume('cold-start', 1);
    assert.equal(first.allowed, true);
    assert.equal(a.shared, true);
    await b.connected();
    // b's own local budget would allow this; the shared one is spent.
    assert.equal((await b.consume('cold-start', 1)).allowed, false);
  });

  test('an address\'s share of a key is shared by every instance, its refusals spend nothing of the key\'s, and its counters expire with the window', async () => {
    const shares = { requests: { limit: 10, windowMs: minute }, events: { limit: 1000, windowMs: minute }, addressPercent: 20 };
    const a = limiter(shares);
    const b = limiter(shares);
    await a.connected();
    await b.connected();
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await (i % 2 ? a : b).consume('addr-key', 1, '192.0.2.1'));
    assert.deepEqual(decisions.map((d) => d.allowed), [true, true, false, false], 'two requests in all from one address (20% of 10), whichever instance takes them');
    assert.ok(decisions.every((d) => d.byAddress));
    assert.deepEqual([decisions[2].limit, decisions[2].remaining], [2, 0]);
    assert.equal((await a.consume('addr-key', 1, '192.0.2.2')).allowed, true, 'another address has its own share');
    const keyOnly = await b.consume('addr-key', 1);
    assert.equal(keyOnly.byAddress, false);
    assert.equal(keyOnly.remaining, 10 - 4, 'the two refused requests spent nothing of the key\'s');

    const client = new Redis(redis.value!);
    try {
      const ttl = await client.pttl(`${prefix}{addr-key}:a:192.0.2.1:r`);
      assert.ok(ttl > 0 && ttl <= minute, `the address counter expires with the window (PTTL ${ttl})`);
    } finally {
      client.disconnect();
    }
  });

  test('the window resets in Redis', async () => {
    const l = limiter({ requests: { limit: 2, windowMs: 300 } });
    await l.connected();
    assert.equal((await l.consume('window', 1)).allowed, true);
    assert.equal((await l.consume('window', 1)).allowed, true);
    const denied = await l.consume('window', 1);
    assert.equal(denied.allowed, false);
    assert.ok(denied.resetMs > 0 && denied.resetMs <= 300, `resetMs ${denied.resetMs}`);
    await sleep(denied.resetMs + 50);
    const fresh = await l.consume('window', 1);
    assert.equal(fresh.allowed, true);
    assert.equal(fresh.remaining, 1);
  });

  test('an unreachable Redis: every decision is made locally within the bound, with one warning', async () => {
    const log = recordingLogger();
    const l = limiter({ url: 'redis://:secret@127.0.0.1:1', requests: { limit: 2, windowMs: minute }, logger: log.logger });
    assert.equal(await l.connected(300), false);
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await bounded(l.consume('offline', 1)));
    assert.deepEqual(decisions.map((d) => d.allowed), [true, true, false, false]);
    assert.equal(l.shared, false);
    assert.equal(log.warn.length, 1, log.warn.join('\n'));
    assert.match(log.warn[0], /127\.0\.0\.1:1/);
    assert.doesNotMatch(log.warn[0], /secret/);
  });

  test('falls back when its Redis dies or stalls, and uses it again when it returns', async () => {
    const child = await ChildRedis.start();
    cleanups.push(() => child.kill());
    const log = recordingLogger();
    const l = limiter({ url: child.url, requests: { limit: 3, windowMs: minute }, logger: log.logger });
    const inspect = () => {
      const c = new Redis(child.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      return { count: async () => { try { return await c.get(`${prefix}{recovery}:r`); } finally { c.disconnect(); } } };
    };
    assert.equal(await l.connected(), true);
    assert.equal((await l.consume('recovery', 1)).allowed, true);
    assert.equal((await l.consume('recovery', 1)).allowed, true);
    assert.equal(await inspect().count(), '2');

    // Redis dies: decisions come from the local budget (fresh: 3 requests), one warning.
    await child.kill();
    await waitFor('the limiter to notice', () => !l.shared);
    const local = [];
    for (let i = 0; i < 4; i++) local.push(await bounded(l.consume('recovery', 1)));
    assert.deepEqual(local.map((d) => d.allowed), [true, true, true, false]);
    assert.equal(log.warn.length, 1, log.warn.join('\n'));

    // Redis returns on the same port (empty: no persistence): the limiter goes back to it.
    await child.start();
    await waitFor('the limiter to reconnect', () => l.shared);
    const back = await bounded(l.consume('recovery', 1));
    assert.equal(back.allowed, true);
    assert.equal(back.remaining, 2);
    assert.equal(await inspect().count(), '1');
    assert.equal(log.info.length, 1, log.info.join('\n'));
    assert.equal(log.warn.length, 1, log.warn.join('\n'));

    // Redis stalls (connected but not answering): decisions still come back within the bound.
    child.signal('SIGSTOP');
    const stalled = await bounded(l.consume('stalled', 1));
    assert.equal(stalled.allowed, true);
    assert.equal(l.shared, false);
    assert.equal(log.warn.length, 2, log.warn.join('\n'));
    child.signal('SIGCONT');
    // After the probe interval the next decision tries Redis again and succeeds.
    await sleep(1100);
    await bounded(l.consume('stalled', 1));
    await waitFor('the limiter to use Redis again', () => l.shared);
    assert.equal(log.info.length, 2, log.info.join('\n'));
  });

  test('bad options are refused at construction', () => {
    const budgets = { requests: { limit: 1, windowMs: 1000 }, events: { limit: 1, windowMs: 1000 } };
    assert.throws(() => new RedisRateLimiter({ ...budgets, url: 'http://localhost' }), /redis:\/\//);
    assert.throws(() => new RedisRateLimiter({ ...budgets, url: 'not a url' }), /redis:\/\//);
    assert.throws(() => new RedisRateLimiter({ ...budgets, url: 'redis://127.0.0.1:1', commandTimeoutMs: 0 }), /commandTimeoutMs/);
    assert.throws(() => new RedisRateLimiter({ url: 'redis://127.0.0.1:1', requests: { limit: 0, windowMs: 1000 }, events: budgets.events }), /requests\.limit/);
  });
});
