// fetchCommitted against a real broker, on logs built to hold the shapes a restarted or fenced
// transactional producer leaves: aborted transactions with data, aborts with no data on the
// partition (the partition was added to the transaction, its write refused), committed
// transactions of the same producer id between and after them. Every committed record must come
// back, and nothing aborted, whichever offset the read starts at and however small the responses.
// The same fixtures check that a transactional producer's batches go out compressed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { needKafka } from '@inlet/testkit';
import type { Consumer } from '@platformatic/kafka';
import { createAdmin, createFetcher, createTransactionalProducer, fetchCommitted, forceClose, type BufferProducer } from '../src/index.ts';

const kafka = await needKafka();

const CONTROL = 0b10_0000;
/** a record batch's compression codec, in its attributes' low bits; lz4 is 3 */
const CODEC = 0b111;
const LZ4 = 3;
/** the topic's max.message.bytes: a record above it is refused after its partition joined the transaction */
const MAX_MESSAGE_BYTES = 2048;
/** Random bytes: the producer compresses (lz4), and a repeated byte would shrink under the limit. */
const tooLarge = () => randomBytes(MAX_MESSAGE_BYTES * 2);

type Step = { commit: boolean; values: string[] } | { emptyAbort: true };

describe('fetchCommitted on transactional logs (real Kafka)', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];
  const topics: string[] = [];
  const producers: BufferProducer[] = [];
  let fetcher: Consumer;

  before(() => {
    fetcher = createFetcher({ brokers, clientId: 'inlet-committed-fetch-test' });
  });

  after(async () => {
    await Promise.all([fetcher, ...producers].map((c) => forceClose(c)));
    const admin = createAdmin({ brokers, clientId: 'inlet-committed-fetch-test' });
    try {
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await forceClose(admin);
    }
  });

  async function onePartitionTopic(): Promise<string> {
    const topic = `inlet-committed-fetch-${randomUUID()}`;
    const admin = createAdmin({ brokers, clientId: 'inlet-committed-fetch-test' });
    try {
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }] });
    } finally {
      await forceClose(admin);
    }
    topics.push(topic);
    return topic;
  }

  /** A producer with this transactional id: the first one gets a producer id, each later one fences the one before and keeps that id. */
  async function producer(transactionalId: string): Promise<BufferProducer> {
    const p = await createTransactionalProducer({ brokers, clientId: 'inlet-committed-fetch-test', transactionalId, retries: 3 });
    producers.push(p);
    return p;
  }

  /** Runs the steps under one transactional id, each its own transaction on partition 0; returns the committed values in order. */
  async function write(topic: string, steps: Step[]): Promise<string[]> {
    const transactionalId = `inlet-committed-fetch-${randomUUID()}`;
    let p = await producer(transactionalId);
    const committed: string[] = [];
    for (const step of steps) {
      const transaction = await p.beginTransaction();
      if ('emptyAbort' in step) {
        // The partition joins the transaction (AddPartitionsToTxn), then the broker refuses the
        // record: the abort marker is the only thing this transaction leaves on the partition.
        await assert.rejects(transaction.send({ messages: [{ topic, partition: 0, value: tooLarge() }] }));
        await transaction.abort();
        // The refused record used up sequence numbers the broker never saw: carry on as a
        // restarted processor does, with a new producer under the same transactional id.
        p = await producer(transactionalId);
        continue;
      }
      // One send per value: one batch each, so small responses can end between them.
      for (const value of step.values) await transaction.send({ messages: [{ topic, partition: 0, key: Buffer.from('k'), value: Buffer.from(value) }] });
      if (step.commit) {
        await transaction.commit();
        committed.push(...step.values);
      } else {
        await transaction.abort();
      }
    }
    return committed;
  }

  /** Partition 0's record batches as the broker stores them, markers and aborted data included. */
  async function rawBatches(topic: string) {
    const metadata = await fetcher.metadata({ topics: [topic] });
    const t = metadata.topics.get(topic)!;
    const response = await fetcher.fetch({
      node: t.partitions[0].leader,
      topics: [{ topicId: t.id, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      maxWaitTime: 10, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0,
    });
    return response.responses[0].partitions[0].records ?? [];
  }

  /** Every batch of partition 0, control ones included (read_uncommitted): what the log holds. */
  async function logShape(topic: string): Promise<string[]> {
    return (await rawBatches(topic)).map((b) => {
      if (!(b.attributes & CONTROL)) return `data@${b.firstOffset}`;
      return `${b.records[0].key!.readInt16BE(2) === 0 ? 'abort' : 'commit'}@${b.firstOffset}`;
    });
  }

  /** Reads partition 0 from `from` to the end with fetchCommitted, `partitionMaxBytes` per response (1: one batch each). */
  async function readFrom(topic: string, from: bigint, partitionMaxBytes: number): Promise<{ offset: bigint; value: string }[]> {
    const records: { offset: bigint; value: string }[] = [];
    const positions = new Map([[0, from]]);
    for (let fetches = 0; positions.size > 0; fetches++) {
      assert.ok(fetches < 1000, 'the read reaches the end');
      const [f] = await fetchCommitted(fetcher, topic, positions, { maxWaitTime: 10, maxBytes: Math.max(partitionMaxBytes, 1024), partitionMaxBytes });
      for (const r of f.records) records.push({ offset: r.offset, value: r.value!.toString() });
      if (f.nextOffset >= f.lastStableOffset) positions.delete(0);
      else positions.set(0, f.nextOffset);
    }
    return records;
  }

  /**
   * Until no transaction is open on partition 0 (its last stable offset is its end): a commit
   * returns once the coordinator has it, and the partition's marker, which moves that offset, is
   * written just after. A read before would stop short of the last committed records.
   */
  async function transactionsEnded(topic: string): Promise<void> {
    for (let tries = 0; ; tries++) {
      const [f] = await fetchCommitted(fetcher, topic, new Map([[0, 0n]]), { maxWaitTime: 10, maxBytes: 1024, partitionMaxBytes: 1 });
      if (f.lastStableOffset === f.highWatermark) return;
      assert.ok(tries < 200, `partition 0 still has an open transaction: ${f.lastStableOffset} < ${f.highWatermark}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** From every offset, in one response and one batch per response: exactly the committed records at or after it. */
  async function assertEveryReadCommitted(topic: string, committed: string[]): Promise<void> {
    await transactionsEnded(topic);
    const all = await readFrom(topic, 0n, 1 << 20);
    assert.deepEqual(all.map((r) => r.value), committed);
    const shape = await logShape(topic);
    const end = BigInt(shape.at(-1)!.split('@')[1]) + 1n; // each batch holds one record or one marker
    for (let from = 0n; from <= end; from++) {
      const expected = all.filter((r) => r.offset >= from).map((r) => r.value);
      assert.deepEqual((await readFrom(topic, from, 1 << 20)).map((r) => r.value), expected, `read from ${from} in one response`);
      assert.deepEqual((await readFrom(topic, from, 1)).map((r) => r.value), expected, `read from ${from} one batch at a time`);
    }
  }

  test('committed transactions between an aborted one and a later abort with no data on the partition are all delivered', { timeout: 60_000 }, async () => {
    const topic = await onePartitionTopic();
    const committed = await write(topic, [
      { commit: false, values: ['a1', 'a2'] },
      { commit: true, values: ['c1', 'c2', 'c3'] },
      { commit: true, values: ['c4'] },
      { emptyAbort: true },
      { commit: true, values: ['c5', 'c6'] },
    ]);
    // The log is what the test means: an abort marker with no data of its own after the commits.
    const shape = await logShape(topic);
    assert.deepEqual(shape.map((s) => s.split('@')[0]), ['data', 'data', 'abort', 'data', 'data', 'data', 'commit', 'data', 'commit', 'abort', 'data', 'data', 'commit']);
    await assertEveryReadCommitted(topic, committed);
  });

  test('a fenced producer\'s transaction aborted by its successor, another producer\'s transactions interleaved, an abort with no data: every committed record, nothing aborted', { timeout: 120_000 }, async () => {
    const topic = await onePartitionTopic();
    const transactionalId = `inlet-committed-fetch-${randomUUID()}`;
    const send = (t: { send: BufferProducer['send'] }, value: string) => t.send({ messages: [{ topic, partition: 0, key: Buffer.from('k'), value: Buffer.from(value) }] });
    const other = await producer(`inlet-committed-fetch-${randomUUID()}`);
    const q1 = await other.beginTransaction();
    await send(q1, 'q1');
    // A producer that hangs with its transaction open, and its successor under the same id.
    const zombie = await producer(transactionalId);
    const open = await zombie.beginTransaction();
    await send(open, 'z1');
    await send(open, 'z2');
    const successor = await producer(transactionalId); // fences the zombie; its transaction is aborted
    let t = await successor.beginTransaction();
    await send(t, 'c1');
    await q1.commit();
    await t.commit();
    t = await successor.beginTransaction();
    await send(t, 'c2');
    const q2 = await other.beginTransaction();
    await send(q2, 'q2');
    await t.commit();
    // The successor's next transaction writes nothing here: the broker refuses its record.
    t = await successor.beginTransaction();
    await assert.rejects(t.send({ messages: [{ topic, partition: 0, value: tooLarge() }] }));
    await send(q2, 'q3');
    await t.abort();
    await q2.abort();
    const third = await producer(transactionalId);
    t = await third.beginTransaction();
    await send(t, 'c3');
    await t.commit();
    const shape = await logShape(topic);
    assert.equal(shape.filter((s) => s.startsWith('abort')).length, 3, `three abort markers: ${shape.join(' ')}`);
    await assertEveryReadCommitted(topic, ['q1', 'c1', 'c2', 'c3']);
  });

  test('a transactional producer writes its batches compressed with lz4, as the sink does', async () => {
    const topic = await onePartitionTopic();
    const p = await producer(`inlet-committed-fetch-${randomUUID()}`);
    const t = await p.beginTransaction();
    await t.send({ messages: [{ topic, partition: 0, key: Buffer.from('k'), value: Buffer.from('{"event":"Order Completed"}'.repeat(20)) }] });
    await t.commit();
    const data = (await rawBatches(topic)).filter((b) => !(b.attributes & CONTROL));
    assert.deepEqual(data.map((b) => b.attributes & CODEC), [LZ4]);
  });
});
