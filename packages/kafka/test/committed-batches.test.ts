// The read_committed filter, on hand-built fetch responses (the broker is not needed to build the
// case where one producer has two aborted transactions in the same response).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordsBatch } from '@platformatic/kafka';
import { committedBatches } from '../src/committed-fetch.ts';

const TRANSACTIONAL = 0b1_0000;
const CONTROL = 0b10_0000;

function data(firstOffset: number, count: number, producerId: number, transactional = true): RecordsBatch {
  return {
    firstOffset: BigInt(firstOffset), length: 0, partitionLeaderEpoch: 0, magic: 2, crc: 0,
    attributes: transactional ? TRANSACTIONAL : 0, lastOffsetDelta: count - 1, firstTimestamp: 0n, maxTimestamp: 0n,
    producerId: BigInt(producerId), producerEpoch: 0, firstSequence: 0,
    records: Array.from({ length: count }, (_, i) => ({ length: 0, attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: Buffer.from(`${firstOffset + i}`), headers: [] })),
  };
}

function marker(offset: number, producerId: number, commit: boolean): RecordsBatch {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return { ...data(offset, 1, producerId), attributes: TRANSACTIONAL | CONTROL, records: [{ length: 0, attributes: 0, timestampDelta: 0n, offsetDelta: 0, key, value: null, headers: [] }] };
}

const offsets = (batches: RecordsBatch[]) => batches.flatMap((b) => b.records.map((r) => Number(b.firstOffset) + r.offsetDelta));

describe('committedBatches', () => {
  test('drops both aborted transactions of one producer, keeps its committed one between them', () => {
    const records = [
      data(0, 3, 7), marker(3, 7, false), // aborted
      data(4, 2, 7), marker(6, 7, true), // committed
      data(7, 2, 7), marker(9, 7, false), // aborted again (same producer id, bumped epoch)
      data(10, 2, 8, false), // plain idempotent producer
    ];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 7n, firstOffset: 0n }, { producerId: 7n, firstOffset: 7n }] });
    assert.deepEqual(offsets(kept), [4, 5, 10, 11]);
  });

  test('interleaved producers: only the aborted one is dropped', () => {
    const records = [data(0, 2, 1), data(2, 2, 2), marker(4, 1, false), data(5, 1, 2), marker(6, 2, true)];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 1n, firstOffset: 0n }] });
    assert.deepEqual(offsets(kept), [2, 3, 5]);
  });

  test('an aborted transaction whose marker is past the end of the response is still dropped', () => {
    const kept = committedBatches({ records: [data(0, 2, 3), data(2, 2, 4)], abortedTransactions: [{ producerId: 3n, firstOffset: 0n }] });
    assert.deepEqual(offsets(kept), [2, 3]);
  });

  test('no aborted transactions: every data batch, no control batch', () => {
    const kept = committedBatches({ records: [data(0, 2, 1), marker(2, 1, true)], abortedTransactions: [] });
    assert.deepEqual(offsets(kept), [0, 1]);
  });
});
