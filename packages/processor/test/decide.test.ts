// The decision on plain records, without a broker: what is kept, what is dropped, what the
// changelog records and where positions move.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FetchedRecord, PartitionFetch } from '@inlet/kafka';
import { applyChangelogRecord } from '../src/changelog.ts';
import { applyBatch, decideBatch, type PartitionState } from '../src/decide.ts';
import { DedupStore } from '../src/dedup-store.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const options = { outputTopic: 'events', changelogTopic: 'changelog', maxBatchRecords: 1000 };
const NOW = T0 + HOUR;

function record(offset: number, messageId: string, receivedAt: number, user = 'u1', sourceId = 's1'): FetchedRecord {
  const value = JSON.stringify({ type: 'track', event: 'clicked', userId: user, sourceId, messageId, receivedAt: new Date(receivedAt).toISOString() });
  return {
    offset: BigInt(offset),
    timestamp: BigInt(receivedAt),
    key: Buffer.from(user),
    value: Buffer.from(value),
    headers: [[Buffer.from('source-id'), Buffer.from(sourceId)], [Buffer.from('event-type'), Buffer.from('track')], [Buffer.from('message-id'), Buffer.from(messageId)]],
  };
}

function fetch(partition: number, records: FetchedRecord[], nextOffset = records.length > 0 ? records[records.length - 1].offset + 1n : 0n): PartitionFetch {
  return { partition, records, nextOffset, highWatermark: nextOffset + 5n, lastStableOffset: nextOffset };
}

function states(...partitions: number[]): Map<number, PartitionState> {
  return new Map(partitions.map((p) => [p, { store: new DedupStore(HOUR), position: 0n, highWatermark: 0n }]));
}

const messageIds = (batch: ReturnType<typeof decideBatch>) => batch!.outputs.map((m) => JSON.parse(m.value!.toString()).messageId);

describe('decideBatch', () => {
  test('keeps the first of each event, drops its repeats within the window, and moves the position past all of them', () => {
    const s = states(0);
    const batch = decideBatch([fetch(0, [record(0, 'a', T0), record(1, 'b', T0 + 1), record(2, 'a', T0 + 2000), record(3, 'a', T0 + 3000, 'u1', 's2')])], s, options, NOW);
    assert.ok(batch);
    assert.deepEqual(messageIds(batch), ['a', 'b', 'a']);
    assert.equal(batch.consumed, 4);
    assert.equal(batch.duplicates, 1);
    assert.equal(batch.invalid, 0);
    assert.deepEqual(batch.advances, [{ partition: 0, next: 4n }]);
    assert.equal(s.get(0)!.position, 0n, 'positions move only once the transaction committed');
    assert.equal(s.get(0)!.highWatermark, 9n);
  });

  test('a kept record goes out with the key, headers, value and timestamp it came with', () => {
    const input = record(0, 'a', T0, 'user-7');
    const batch = decideBatch([fetch(0, [input])], states(0), options, NOW)!;
    const [out] = batch.outputs;
    assert.equal(out.topic, 'events');
    assert.deepEqual(out.key, input.key);
    assert.deepEqual(out.value, input.value);
    assert.equal(out.timestamp, input.timestamp);
    assert.deepEqual([...(out.headers as Map<Buffer, Buffer>)].map(([k, v]) => [k.toString(), v.toString()]), [['source-id', 's1'], ['event-type', 'track'], ['message-id', 'a']]);
  });

  test('the changelog record holds exactly the kept identities, and replaying it decides like the live store', () => {
    const s = states(0);
    const batch = decideBatch([fetch(0, [record(0, 'a', T0), record(1, 'a', T0 + 10), record(2, 'b', T0 + 20)])], s, options, NOW)!;
    assert.equal(batch.changelog.length, 1);
    assert.equal(batch.changelog[0].topic, 'changelog');
    assert.equal(batch.changelog[0].partition, 0);
    const replayed = new DedupStore(HOUR);
    assert.equal(applyChangelogRecord(replayed, batch.changelog[0].value!), 2);
    assert.equal(replayed.watermark, s.get(0)!.store.watermark);
    // The next repeat is caught by the live store and by the replayed one alike.
    const next = [fetch(0, [record(3, 'b', T0 + 30)], 4n)];
    const fromReplay = new Map([[0, { store: replayed, position: 3n, highWatermark: 0n }]]);
    assert.equal(decideBatch(next, s, options, NOW)!.duplicates, 1);
    assert.equal(decideBatch(next, fromReplay, options, NOW)!.duplicates, 1);
  });

  test('a value that is not a JSON object is passed through and counted, never dropped, and not remembered', () => {
    const bad = { ...record(0, 'x', T0), value: Buffer.from('not json') };
    const batch = decideBatch([fetch(0, [bad, { ...bad, offset: 1n }])], states(0), options, NOW)!;
    assert.equal(batch.outputs.length, 2);
    assert.equal(batch.invalid, 2);
    assert.equal(batch.duplicates, 0);
    assert.equal(applyChangelogRecord(new DedupStore(HOUR), batch.changelog[0].value!), 0);
  });

  test('maxBatchRecords cuts the batch: the position stops after the last record taken, and later partitions wait', () => {
    const s = states(0, 1);
    const fetched = [fetch(0, [record(0, 'a', T0), record(1, 'b', T0), record(2, 'c', T0)]), fetch(1, [record(0, 'd', T0)])];
    const batch = decideBatch(fetched, s, { ...options, maxBatchRecords: 2 }, NOW)!;
    assert.deepEqual(messageIds(batch), ['a', 'b']);
    assert.deepEqual(batch.advances, [{ partition: 0, next: 2n }]);
    assert.equal(s.get(1)!.store.size, 0, 'partition 1 decided nothing');
  });

  test('a partition whose fetch held only aborted data or markers still moves, with an empty changelog record', () => {
    const batch = decideBatch([fetch(0, [], 7n)], states(0), options, NOW)!;
    assert.deepEqual(batch.advances, [{ partition: 0, next: 7n }]);
    assert.equal(batch.changelog.length, 1, 'restore relies on a changelog write for every offset commit');
    assert.equal(batch.outputs.length, 0);
  });

  test('partitions not owned are ignored, and nothing to move gives no batch', () => {
    assert.equal(decideBatch([fetch(3, [record(0, 'a', T0)])], states(0), options, NOW), undefined);
    assert.equal(decideBatch([fetch(0, [], 0n)], states(0), options, NOW), undefined);
  });

  test('a record far in the future moves the window no further than now + max-disorder', () => {
    const s = new Map([[0, { store: new DedupStore(HOUR, 5 * 60_000), position: 0n, highWatermark: 0n }]]);
    decideBatch([fetch(0, [record(0, 'a', T0), record(1, 'wild', T0 + 100 * HOUR)])], s, options, T0);
    assert.equal(s.get(0)!.store.watermark, T0 + 5 * 60_000);
    assert.equal(decideBatch([fetch(0, [record(2, 'a', T0 + 1000)], 3n)], s, options, T0)!.duplicates, 1, 'the first event is still remembered');
  });
});

describe('records from the future', () => {
  test('are remembered as of now + max-disorder, so they expire and eviction gets past them: memory stays bounded', () => {
    const grace = 5 * 60_000;
    const store = new DedupStore(HOUR, grace);
    const s = new Map([[0, { store, position: 0n, highWatermark: 0n }]]);
    const future = Array.from({ length: 1500 }, (_, i) => record(i, `future-${i}`, Date.parse('2100-01-01T00:00:00.000Z')));
    const big = { ...options, maxBatchRecords: 5000 };
    let batch = decideBatch([fetch(0, future)], s, big, T0)!;
    applyBatch(batch, s);
    assert.equal(batch.outputs.length, 1500, 'kept: they are not repeats');
    // The changelog holds the capped time (an entry: a 16-byte key, then receivedAt as a double).
    assert.equal(batch.changelog[0].value!.readDoubleBE(13 + 16), T0 + grace);
    // Three hours of ordinary events, an hour's window: what is older than the window goes.
    for (let hour = 0; hour < 3; hour++) {
      const now = T0 + (hour + 1) * HOUR;
      const records = Array.from({ length: 2000 }, (_, i) => record(i, `h${hour}-${i}`, now - 1000 + i));
      batch = decideBatch([fetch(0, records, BigInt((hour + 1) * 10_000))], s, big, now)!;
      applyBatch(batch, s);
    }
    assert.ok(store.size <= 4000, `${store.size} entries: the future ones and the first hours expired`);
  });

  test('a repeat of a record from the future is still one', () => {
    const s = new Map([[0, { store: new DedupStore(HOUR, 5 * 60_000), position: 0n, highWatermark: 0n }]]);
    const at = Date.parse('2100-01-01T00:00:00.000Z');
    assert.equal(decideBatch([fetch(0, [record(0, 'f', at), record(1, 'f', at)])], s, options, T0)!.duplicates, 1);
  });
});

describe('applyBatch', () => {
  test('after the commit, positions move to where the batch said', () => {
    const s = states(0, 1);
    const batch = decideBatch([fetch(0, [record(0, 'a', T0)]), fetch(1, [record(4, 'b', T0)])], s, options, NOW)!;
    applyBatch(batch, s);
    assert.equal(s.get(0)!.position, 1n);
    assert.equal(s.get(1)!.position, 5n);
  });
});
