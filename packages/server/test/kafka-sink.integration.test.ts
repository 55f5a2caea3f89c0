import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTopic, freePort, needKafka, readAll } from '@inlet/testkit';
import { SinkUnavailableError } from '../src/errors.ts';
import { KafkaSink } from '../src/sinks/kafka-sink.ts';
import { createTopics } from '@inlet/kafka';
import { murmur2 as clientMurmur2 } from '@platformatic/kafka';
import { storedEvent } from './kafka-fixtures.ts';
import type { StoredEvent } from '../src/sinks/sink.ts';
import type { FailedRecord } from '../src/failed/failed-event.ts';

const kafka = await needKafka();
const quiet = { info() {}, warn() {}, error() {} };


describe('KafkaSink on the shared broker', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];
  const topic = `inlet-sink-test-${process.pid}-${Date.now()}`;
  let sink: KafkaSink;

  before(async () => {
    await createTopic(brokers, topic, { partitions: 3, replicationFactor: 1 });
    sink = new KafkaSink({ brokers, topic, writeTimeoutMs: 10_000, logger: quiet });
  });
  after(async () => { await sink?.close(); });

  for (const variant of [{}, { compression: 'zstd' }, { sendMode: 'lanes' }] as const) {
    test(`every written event is read back with its key, headers and value (${JSON.stringify(variant)})`, async () => {
      const own = `${topic}-${Object.values(variant).join('-') || 'default'}`;
      await createTopic(brokers, own, { partitions: 3, replicationFactor: 1 });
      const variantSink = new KafkaSink({ brokers, topic: own, writeTimeoutMs: 10_000, logger: quiet, ...variant });
      const writes = [
        Array.from({ length: 20 }, (_, i) => storedEvent(i)),
        Array.from({ length: 15 }, (_, i) => storedEvent(100 + i, { type: 'identify', event: undefined, traits: { plan: 'pro' } })),
        [storedEvent(200, { userId: null, anonymousId: 'anon-only' })],
        [storedEvent(201, { type: 'page', name: 'Home', userId: undefined, anonymousId: 'anon-page' })],
        ...Array.from({ length: 12 }, (_, w) => Array.from({ length: 5 }, (_, i) => storedEvent(300 + w * 5 + i))),
      ];
      try {
        // Concurrent writes share produce requests; each must still resolve only once acknowledged.
        await Promise.all(writes.map((events) => variantSink.write(events)));
      } finally {
        await variantSink.close();
      }
      const written = writes.flat();

      const records = await readAll(brokers, own);
      assert.equal(records.length, written.length);
      const byId = new Map(records.map((r) => [r.headers['message-id'], r]));
      for (const { record, json } of written) {
        const got = byId.get(record.messageId);
        assert.ok(got, `message ${record.messageId} is in the topic`);
        assert.equal(got.key, record.userId ?? record.anonymousId);
        assert.deepEqual(got.headers, { 'source-id': record.sourceId, 'event-type': record.type, 'message-id': record.messageId });
        assert.equal(got.value, json);
        // The client's own default partitioner's choice: one user's events share a partition
        // across versions (the processor dedups per partition).
        assert.equal(got.partition, (clientMurmur2(Buffer.from(got.key!)) >>> 0) % 3);
      }
      const partitionsOfUser3 = new Set(records.filter((r) => r.key === 'user-3').map((r) => r.partition));
      assert.equal(partitionsOfUser3.size, 1);
    });
  }

  test('small writes wait while a send is on the wire and go out together; a large queue goes ahead', async () => {
    const own = `${topic}-ahead`;
    await createTopic(brokers, own, { partitions: 3, replicationFactor: 1 });
    // A new sink: its first send also fetches metadata and a producer id, so it stays on the wire
    // for the few event-loop turns below.
    const fresh = new KafkaSink({ brokers, topic: own, writeTimeoutMs: 10_000, logger: quiet });
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const writes: StoredEvent[][] = [];
    const written: Promise<unknown>[] = [];
    const write = (events: StoredEvent[]) => { writes.push(events); written.push(fresh.write(events)); };
    let firstDone = false;
    try {
      write([storedEvent(0)]);
      void written[0].then(() => { firstDone = true; });
      await turn();
      assert.equal(fresh.batches, 1);
      for (let i = 1; i <= 10; i++) {
        write([storedEvent(i)]);
        await turn();
      }
      assert.equal(firstDone, false, 'the first send is still on the wire (otherwise this test shows nothing)');
      assert.equal(fresh.batches, 1, 'single events wait for the send on the wire instead of going ahead one by one');
      write([storedEvent(11, { properties: { blob: 'x'.repeat(70 * 1024) } })]);
      await turn();
      assert.equal(firstDone, false);
      assert.equal(fresh.batches, 2, 'a queue of 64 KB and more is serialised ahead');
      await Promise.all(written);
      assert.equal(fresh.batches, 2);
    } finally {
      await fresh.close();
    }
    const records = await readAll(brokers, own);
    assert.deepEqual(new Set(records.map((r) => r.headers['message-id'])), new Set(writes.flat().map((e) => e.record.messageId)));
  });

  test('a request whose records outgrow one produce request is sent in parts, uncompressed too, and acknowledged once all are', async () => {
    const own = `${topic}-large`;
    const failedTopic = `${topic}-large-failed`;
    await createTopic(brokers, own, { partitions: 1, replicationFactor: 1 });
    await createTopic(brokers, failedTopic, { partitions: 1, replicationFactor: 1 });
    const large = new KafkaSink({ brokers, topic: own, failedTopic, writeTimeoutMs: 20_000, logger: quiet, compression: 'none' });
    // 1,000 events of ~1.3 KB for one partition: one record batch of ~1.3 MB, over the broker's 1 MiB.
    const events = Array.from({ length: 1000 }, (_, i) => storedEvent(i, { properties: { n: i, text: 'x'.repeat(1000) } }));
    const failed = { entry: { id: 'failed-large', sourceId: 'src_kafka_test', reason: 'invalid' }, json: JSON.stringify({ id: 'failed-large', padding: 'y'.repeat(850_000) }) } as unknown as FailedRecord;
    try {
      assert.ok(events.reduce((sum, e) => sum + Buffer.byteLength(e.json), 0) > 1024 * 1024);
      await large.write(events, [failed]);
    } finally {
      await large.close();
    }
    const records = await readAll(brokers, own);
    assert.deepEqual(records.map((r) => r.headers['message-id']), events.map((e) => e.record.messageId), 'every event, in order');
    const kept = await readAll(brokers, failedTopic);
    assert.equal(kept.length, 1);
    assert.equal(kept[0].value, failed.json);
  });

  test('a record larger than one produce request is refused without being sent; the producer others share goes on', async () => {
    const own = `${topic}-oversized`;
    await createTopic(brokers, own, { partitions: 1, replicationFactor: 1 });
    const bounded = new KafkaSink({ brokers, topic: own, writeTimeoutMs: 10_000, logger: quiet, maxBatchBytes: 10_000 });
    const small = [storedEvent(1), storedEvent(2)];
    try {
      await assert.rejects(bounded.write([...small, storedEvent(3, { properties: { pad: 'x'.repeat(20_000) } })]), /a record of \d+ bytes cannot go to Kafka \(at most 10000/);
      await bounded.write(small);
      assert.equal(await bounded.ready(), true);
    } finally {
      await bounded.close();
    }
    assert.deepEqual((await readAll(brokers, own)).map((r) => r.headers['message-id']), small.map((e) => e.record.messageId), 'only the write that fits, once');
  });

  test('ready() is true for a topic that exists and false for one that does not', async () => {
    assert.equal(await sink.ready(), true);
    const missing = new KafkaSink({ brokers, topic: `${topic}-missing`, writeTimeoutMs: 2000, logger: quiet });
    try {
      assert.equal(await missing.ready(), false);
    } finally {
      await missing.close();
    }
  });

  test('createTopics creates missing topics and accepts existing ones', async () => {
    const fresh = `${topic}-created`;
    const first = await createTopics({ brokers, topics: [fresh, topic], partitions: 2, replicationFactor: 1, minInsyncReplicas: 1 });
    assert.deepEqual(first.created, [fresh]);
    assert.deepEqual(first.existing, [{ topic, partitions: 3 }]);
    const again = await createTopics({ brokers, topics: [fresh], partitions: 2, replicationFactor: 1 });
    assert.deepEqual(again, { created: [], existing: [{ topic: fresh, partitions: 2 }] });
    await assert.rejects(createTopics({ brokers, topics: [`${topic}-rf`], partitions: 1, replicationFactor: 5 }), /cannot create topic .*REPLICATION/i);
  });
});

describe('KafkaSink without a broker', () => {
  test('a write rejects with SinkUnavailableError within the bound, and ready() is false', { timeout: 20_000 }, async () => {
    const port = await freePort();
    const writeTimeoutMs = 1500;
    const sink = new KafkaSink({ brokers: [`127.0.0.1:${port}`], topic: 'raw-events', writeTimeoutMs, logger: quiet });
    try {
      const started = Date.now();
      await assert.rejects(sink.write([storedEvent(1)]), SinkUnavailableError);
      // A bound on correctness (never hang), not a speed check: generous slack for a busy machine.
      assert.ok(Date.now() - started < writeTimeoutMs + 3000, `rejected after ${Date.now() - started} ms`);
      assert.equal(await sink.ready(), false);
    } finally {
      await sink.close();
    }
  });

  test('options are checked at construction', () => {
    const ok = { brokers: ['127.0.0.1:9092'], topic: 'raw-events', writeTimeoutMs: 1000 };
    assert.throws(() => new KafkaSink({ ...ok, brokers: [] }), /brokers/);
    assert.throws(() => new KafkaSink({ ...ok, brokers: ['nohost'] }), /brokers/);
    assert.throws(() => new KafkaSink({ ...ok, topic: 'bad topic' }), /topic/);
    assert.throws(() => new KafkaSink({ ...ok, writeTimeoutMs: 0 }), /writeTimeoutMs/);
    assert.throws(() => new KafkaSink({ ...ok, lingerMs: -1 }), /lingerMs/);
    assert.throws(() => new KafkaSink({ ...ok, compression: 'brotli' as never }), /compression/);
    assert.throws(() => new KafkaSink({ ...ok, sendMode: 'parallel' as never }), /sendMode/);
    assert.doesNotThrow(() => void new KafkaSink({ ...ok, compression: 'zstd', sendMode: 'lanes' }).close());
  });

  test('a closed sink refuses writes', async () => {
    const sink = new KafkaSink({ brokers: ['127.0.0.1:9'], topic: 'raw-events', writeTimeoutMs: 1000, logger: quiet });
    await sink.close();
    await assert.rejects(sink.write([storedEvent(1)]), SinkUnavailableError);
    assert.equal(await sink.ready(), false);
  });
});
