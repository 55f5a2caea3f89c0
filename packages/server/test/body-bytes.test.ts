// How a request body is held while it arrives (src/body.ts): one allocation per declared body, so a
// stalled body's memory goes back to the system in one piece when it is freed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyBytes } from '../src/body.ts';

/** A piece as Node's HTTP parser emits it: a buffer of its own. */
const piece = (text: string) => Buffer.from(new TextEncoder().encode(text).buffer as ArrayBuffer);

test('a body of declared length is copied into one buffer as it arrives, and each piece is freed at once', () => {
  const bytes = new BodyBytes(13, true);
  const pieces = [piece('{"a":'), piece('1,"b"'), piece(':2}')];
  for (const p of pieces) bytes.add(p);
  assert.deepEqual(pieces.map((p) => p.buffer.byteLength), [0, 0, 0], 'every piece was freed as it was copied');
  assert.equal(bytes.size, 13);
  assert.equal(bytes.take().toString(), '{"a":1,"b":2}');
});

test("more than the declared length (Node's parser refuses that first) loses no byte", () => {
  const bytes = new BodyBytes(11, true);
  for (const p of [piece('{"a":'), piece('1,"b"'), piece(':2}')]) bytes.add(p);
  assert.equal(bytes.take().toString(), '{"a":1,"b":2}');
});

test('a body without a declared length (chunked) keeps its pieces until they are joined, then frees them', () => {
  const bytes = new BodyBytes(NaN, true);
  const pieces = [piece('{"a":'), piece('1}')];
  for (const p of pieces) bytes.add(p);
  assert.deepEqual(pieces.map((p) => p.buffer.byteLength), [5, 2], 'held until the body is complete');
  assert.equal(bytes.take().toString(), '{"a":1}');
  assert.deepEqual(pieces.map((p) => p.buffer.byteLength), [0, 0], 'freed once joined');
});

test('pieces the reader does not own (gunzip output) are neither copied early nor freed', () => {
  const bytes = new BodyBytes(7, false);
  const pieces = [piece('{"a":'), piece('1}')];
  for (const p of pieces) bytes.add(p);
  assert.equal(bytes.take().toString(), '{"a":1}');
  assert.deepEqual(pieces.map((p) => p.buffer.byteLength), [5, 2]);
});

test('a body refused or abandoned gives back what it held', () => {
  const bytes = new BodyBytes(1_000_000, true);
  bytes.add(piece('{"a":'));
  const before = process.memoryUsage().arrayBuffers;
  bytes.release();
  assert.ok(before - process.memoryUsage().arrayBuffers >= 1_000_000, 'the declared buffer was freed now, not at a later garbage collection');
});
