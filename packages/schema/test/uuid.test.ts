import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { newMessageId, uuid } from '../src/uuid.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('each id takes its own 16 random bytes, in order, with the version and variant bits set', () => {
  // The first 48 bytes of the next draw count up, so the ids made from them show exactly which
  // bytes each took; the rest of the draw stays random for the tests after this one.
  const real = crypto.getRandomValues.bind(crypto);
  const draws = mock.method(crypto, 'getRandomValues', ((bytes: Uint8Array) => {
    real(bytes);
    for (let i = 0; i < 48; i++) bytes[i] = i;
    return bytes;
  }) as typeof crypto.getRandomValues);
  try {
    while (draws.mock.callCount() === 0) uuid(); // until the pool is drawn again, from the counter
    assert.equal(uuid(), '10111213-1415-4617-9819-1a1b1c1d1e1f', 'the second id of the draw: bytes 16-31');
    assert.equal(newMessageId(0x0123456789ab), '01234567-89ab-7627-a829-2a2b2c2d2e2f', 'a v7: the time over bytes 32-37, then 38-47');
  } finally {
    draws.mock.restore();
  }
});

test('newMessageId is a UUIDv7 carrying the time in its first 48 bits', () => {
  const now = Date.UTC(2026, 10, 26, 19, 30, 0, 123);
  const id = newMessageId(now);
  assert.match(id, UUID_V7);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), now);
});

test('newMessageId: later ids sort after earlier ones, and ids of one millisecond differ', () => {
  const ids = Array.from({ length: 1000 }, (_, i) => newMessageId(1_700_000_000_000 + i * 7));
  assert.deepEqual([...ids].sort(), ids);
  const same = new Set(Array.from({ length: 10_000 }, () => newMessageId(1_700_000_000_000)));
  assert.equal(same.size, 10_000);
});

test('newMessageId: the time is exact at the edges of its 48 bits', () => {
  for (const ms of [0, 1, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1]) {
    const id = newMessageId(ms);
    assert.match(id, UUID_V7);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms, id);
  }
});

test('v4 and v7 ids drawn across many refills of the random pool are well-formed and all different', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const v4 = uuid();
    const v7 = newMessageId();
    assert.match(v4, UUID_V4);
    assert.match(v7, UUID_V7);
    ids.add(v4).add(v7);
  }
  assert.equal(ids.size, 10_000);
});
