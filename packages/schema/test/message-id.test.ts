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
