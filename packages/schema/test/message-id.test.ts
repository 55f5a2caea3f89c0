import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newMessageId } from '../src/message-id.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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

test('newMessageId: the time is exact at the edges of its 48 bits, and every random digit varies', () => {
  for (const ms of [0, 1, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 48 - 1]) {
    const id = newMessageId(ms);
    assert.match(id, UUID_V7);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms, id);
  }
  // across more ids than one draw of random bytes holds, each random position takes many values
  const ids = Array.from({ length: 2000 }, () => newMessageId(1_700_000_000_000));
  for (const position of [15, 16, 17, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35]) {
    const seen = new Set(ids.map((id) => id[position]));
    assert.ok(seen.size >= 10, `position ${position} took ${seen.size} values`);
  }
  assert.ok(new Set(ids.map((id) => id[19])).size === 4, 'the variant digit is 8, 9, a or b');
});
