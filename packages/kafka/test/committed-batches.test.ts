// The read_committed filter, on hand-built fetch responses laid out as the broker sends them (the
// broker is not needed to build the case where one producer has two aborted transactions in the
// same response). What the broker lists in abortedTransactions: every aborted transaction with data
// on the partition whose abort marker is at or after the fetch offset and whose first offset is
// below the end of the read — none for a transaction that wrote nothing on the partition, though its
// abort marker is written there all the same. committed-fetch.integration.test.ts builds these
// shapes on a real broker.
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

  test('an abort marker with no data of its own (nothing listed for it) after committed transactions of the same producer drops nothing', () => {
    const records = [
      data(0, 2, 7), marker(2, 7, false), // aborted, listed
      data(3, 2, 7), marker(5, 7, true),
      data(6, 1, 7), marker(7, 7, true),
      marker(8, 7, false), // aborted with no data on this partition: not listed
      data(9, 2, 7), marker(11, 7, true),
    ];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 7n, firstOffset: 0n }] });
    assert.deepEqual(offsets(kept), [3, 4, 6, 9, 10]);
  });

  test('an abort marker with no data that comes first clears nothing it should not', () => {
    const records = [marker(0, 7, false), data(1, 2, 7), marker(3, 7, true), data(4, 2, 7), marker(6, 7, false)];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 7n, firstOffset: 4n }] });
    assert.deepEqual(offsets(kept), [1, 2]);
  });

  test('an aborted transaction that began before the fetch offset: its data in the response is dropped, the same producer\'s committed data after its marker is kept', () => {
    // fetched from offset 12; the transaction began at 10, its marker is at 14
    const records = [data(12, 2, 7), marker(14, 7, false), data(15, 2, 7), marker(17, 7, true)];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 7n, firstOffset: 10n }] });
    assert.deepEqual(offsets(kept), [15, 16]);
  });

  test('a listed aborted transaction whose data lies past the end of the response drops nothing in it', () => {
    // the broker lists up to its own read bound, which can be past the last whole batch returned
    const records = [data(0, 2, 7), marker(2, 7, true), data(3, 2, 8), marker(5, 8, true)];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 7n, firstOffset: 20n }] });
    assert.deepEqual(offsets(kept), [0, 1, 3, 4]);
  });

  test('a response that starts after an abort marker already read needs nothing from it', () => {
    // the marker at 2 was in the previous response; the broker no longer lists that transaction
    const kept = committedBatches({ records: [data(3, 2, 7), marker(5, 7, true)], abortedTransactions: [] });
    assert.deepEqual(offsets(kept), [3, 4]);
  });

  test('aborted transactions listed out of order are applied in offset order', () => {
    const records = [data(0, 1, 1), data(1, 1, 2), marker(2, 1, false), marker(3, 2, true), data(4, 1, 2), marker(5, 2, false), data(6, 1, 1), marker(7, 1, true)];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 2n, firstOffset: 4n }, { producerId: 1n, firstOffset: 0n }] });
    assert.deepEqual(offsets(kept), [1, 6]);
  });

  test('a non-transactional batch of a producer id being aborted is kept (only transactional batches belong to the transaction)', () => {
    const records = [data(0, 1, 7), data(1, 1, 7, false), marker(2, 7, false)];
    const kept = committedBatches({ records, abortedTransactions: [{ producerId: 7n, firstOffset: 0n }] });
    assert.deepEqual(offsets(kept), [1]);
  });
});
