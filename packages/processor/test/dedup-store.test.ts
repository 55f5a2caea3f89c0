import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DedupStore } from '../src/dedup-store.ts';

const HOUR = 3_600_000;

describe('DedupStore', () => {
  test('a repeat within the window is a duplicate; the first occurrence is not', () => {
    const store = new DedupStore(HOUR);
    assert.equal(store.decide('m1', 1000), false);
    assert.equal(store.decide('m1', 1000 + 59 * 60_000), true);
    assert.equal(store.decide('m2', 2000), false);
  });

  test('a repeat after the window has passed is kept, and starts a new window', () => {
    const store = new DedupStore(HOUR);
    assert.equal(store.decide('m1', 0), false);
    assert.equal(store.decide('m1', HOUR + 1), false);
    assert.equal(store.decide('m1', HOUR + 2), true);
    assert.equal(store.decide('m1', 2 * HOUR + 1), true, 'measured from the last kept occurrence');
    assert.equal(store.decide('m1', 2 * HOUR + 2), false);
  });

  test('the window edge is inclusive', () => {
    const store = new DedupStore(1000);
    store.decide('k', 0);
    assert.equal(store.decide('k', 1000), true);
    const other = new DedupStore(1000);
    other.decide('k', 0);
    assert.equal(other.decide('k', 1001), false);
  });

  test('an out-of-order repeat (earlier receivedAt) within the window is a duplicate', () => {
    const store = new DedupStore(HOUR);
    store.decide('k', 10 * 60_000);
    assert.equal(store.decide('k', 5 * 60_000), true);
  });

  test('eviction drops entries older than watermark - window and keeps the rest', () => {
    const store = new DedupStore(1000);
    for (let i = 0; i < 100; i++) store.decide(`k${i}`, i * 100);
    assert.equal(store.size, 100);
    const evicted = store.evict();
    // watermark 9900, horizon 8900: k0..k88 are older
    assert.equal(evicted, 89);
    assert.equal(store.size, 11);
    assert.equal(store.has('k88'), false);
    assert.equal(store.has('k89'), true);
  });

  test('memory stays bounded by the window over a long stream', () => {
    const store = new DedupStore(10_000);
    let max = 0;
    for (let i = 0; i < 200_000; i++) {
      store.decide(`key-${i}`, i); // one event per ms
      if (i % 1000 === 0) store.evict();
      max = Math.max(max, store.size);
    }
    assert.ok(max <= 11_001, `size peaked at ${max}`);
    assert.ok(store.estimatedBytes > 0);
  });

  test('one record with a wild receivedAt cannot expire everything else', () => {
    const now = 10 * HOUR;
    const store = new DedupStore(HOUR, 5 * 60_000);
    store.decide('k', now - 1000, now);
    store.decide('bogus', now + 1000 * HOUR, now); // a server with a broken clock
    assert.ok(store.watermark <= now + 5 * 60_000);
    assert.equal(store.decide('k', now, now), true);
  });

  test('records out of receivedAt order by less than the grace still pair up', () => {
    const store = new DedupStore(HOUR, 5 * 60_000);
    store.decide('k', 0);
    store.decide('other', HOUR + 3 * 60_000); // watermark runs 3 min ahead of the next record
    assert.equal(store.decide('k', HOUR), true, 'exactly one window after the first: a repeat');
  });

  test('eviction steps over an entry that arrived out of order', () => {
    const store = new DedupStore(1000);
    store.decide('late-but-new', 5000);
    for (let i = 0; i < 50; i++) store.decide(`k${i}`, i * 10);
    store.decide('now', 5800);
    store.evict();
    assert.equal(store.size, 2, 'only late-but-new and now remain');
    assert.equal(store.has('late-but-new'), true);
  });

  test('decisions do not depend on when eviction runs', () => {
    const events = randomEvents(5000, 42);
    const never = new DedupStore(2000);
    const often = new DedupStore(2000);
    for (const [i, e] of events.entries()) {
      assert.equal(often.decide(e.key, e.t), never.decide(e.key, e.t), `event ${i}`);
      if (i % 7 === 0) often.evict();
    }
  });

  test('a store rebuilt from the changelog at any point decides exactly like the original', () => {
    const events = randomEvents(4000, 7);
    const windowMs = 2000;
    const original = new DedupStore(windowMs);
    // The changelog: an entry per kept event, the watermark after each "transaction" of 50 events.
    const changelog: [string, number][] = [];
    let restored = new DedupStore(windowMs);
    for (let i = 0; i < events.length; i++) {
      const { key, t } = events[i];
      const expected = original.decide(key, t);
      assert.equal(restored.decide(key, t), expected, `event ${i}`);
      if (!expected) changelog.push([key, t]);
      if (i % 50 === 49) {
        changelog.push(['\u0000watermark', original.watermark]);
        original.evict();
        if (i % 450 === 449) {
          // crash and restore from what was committed so far
          restored = new DedupStore(windowMs);
          for (const [k, v] of changelog) {
            if (k === '\u0000watermark') restored.restoreWatermark(v);
            else restored.restoreEntry(k, v);
          }
          restored.evict();
        }
      }
    }
  });
});

/** Mostly increasing receivedAt with jitter, keys repeating near and far. */
function randomEvents(n: number, seed: number): { key: string; t: number }[] {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const events: { key: string; t: number }[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * 3 + Math.floor(random() * 200) - 100;
    const key = random() < 0.2 && i > 0 ? events[Math.floor(random() * i)].key : `k${i}`;
    events.push({ key, t });
  }
  return events;
}
