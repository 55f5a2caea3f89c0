// Our murmur2 must give Kafka's hash (the Java client's too) and pick the partitions our client's
// default partitioner picks: one user's events stay on one partition across Inlet versions, and the
// processor removes duplicates per partition.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { murmur2 as clientMurmur2 } from '@platformatic/kafka';
import { defaultPartition, keyPartitioner, murmur2 } from '../src/partitioner.ts';

describe('murmur2 and the partition of a key', () => {
  test("gives Kafka's own test vectors (Java client, UtilsTest)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key);
  });

  test("equals the client's murmur2 for every length and byte, keys as the sink sends them included", () => {
    const keys = [
      Buffer.alloc(0),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x80]),
      ...Array.from({ length: 70 }, (_, length) => randomBytes(length)),
      ...Array.from({ length: 500 }, () => randomBytes(1 + Math.floor(Math.random() * 200))),
      ...Array.from({ length: 200 }, (_, i) => Buffer.from(i % 2 ? randomUUID() : `user-${i} ü€ 😀`)),
    ];
    for (const key of keys) assert.equal(murmur2(key), clientMurmur2(key), key.toString('hex'));
  });

  test("the partition is the client's default partitioner's, and keyless records go round robin", () => {
    const partitioner = keyPartitioner();
    for (let i = 0; i < 300; i++) {
      const key = Buffer.from(randomUUID());
      const partitions = 1 + (i % 24);
      const expected = (clientMurmur2(key) >>> 0) % partitions;
      assert.equal(defaultPartition(key, partitions), expected);
      assert.equal(partitioner({}, key) % partitions, expected);
    }
    const spread = new Set(Array.from({ length: 12 }, () => partitioner({}, undefined) % 12));
    assert.equal(spread.size, 12);
  });
});
