import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuid } from '../src/uuid.ts';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids drawn across many refills of the random pool are well-formed and all different', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const v4 = uuid();
    const v7 = uuid(Date.now());
    assert.match(v4, V4);
    assert.match(v7, V7);
    ids.add(v4).add(v7);
  }
  assert.equal(ids.size, 10_000);
});

test('a v7 id carries its millisecond time, big-endian, in its first 48 bits', () => {
  for (const ms of [0, 1, 255, 256, 1_764_979_200_123, 2 ** 48 - 1]) {
    const id = uuid(ms);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms, id);
  }
  const earlier = uuid(Date.now());
  const later = uuid(Date.now() + 1);
  assert.ok(earlier < later, 'ids of later milliseconds sort after');
});
