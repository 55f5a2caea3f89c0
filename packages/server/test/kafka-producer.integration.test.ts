// The Kafka sink's producer runs on a thread of its own. A thread that dies takes the outcome of
// its sends with it: they fail (the request gets 503 and its client retries), and the sink goes on
// with a new thread.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { createTopic, needKafka, readAll } from '@inlet/testkit';
import { FAILED_TOPIC_INDEX, toKafkaRows } from '../src/sinks/kafka-producer-protocol.ts';
import { ProducerThread } from '../src/sinks/kafka-producer.ts';
import { storedEvent } from './kafka-fixtures.ts';

const kafka = await needKafka();

const threadOf = (producer: ProducerThread) => (producer as unknown as { worker: Worker | undefined }).worker;

describe('the Kafka producer thread', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];

  test('a thread that dies fails the sends it held, and the next send starts a new one', async () => {
    const topic = `inlet-producer-thread-${process.pid}-${Date.now()}`;
    await createTopic(brokers, topic, { partitions: 2, replicationFactor: 1 });
    // The second topic does not exist (and is never created automatically): a send to it waits, unanswered, until its deadline.
    const producer = new ProducerThread({ writer: { brokers, clientId: 'producer-thread-test', retries: 5, requestTimeoutMs: 10_000 }, topics: [topic, `${topic}-missing`] });
    const before = [storedEvent(1), storedEvent(2)];
    const after = [storedEvent(3)];
    try {
      const { rows, valueBytes } = toKafkaRows(before, []);
      await producer.send([rows], valueBytes, 10_000);
      const first = threadOf(producer);
      const toMissingTopic = toKafkaRows([storedEvent(4)], []);
      toMissingTopic.rows[0] = FAILED_TOPIC_INDEX;
      const held = producer.send([toMissingTopic.rows], toMissingTopic.valueBytes, 10_000);
      assert.equal(producer.inFlight, 1);
      await first!.terminate();
      await assert.rejects(held, /exited/);
      assert.equal(producer.inFlight, 0);

      const later = toKafkaRows(after, []);
      await producer.send([later.rows], later.valueBytes, 10_000);
      assert.notEqual(threadOf(producer), first, 'a new thread carried the send');
    } finally {
      await producer.close();
    }
    const ids = new Set((await readAll(brokers, topic)).map((r) => r.headers['message-id']));
    for (const { record } of [...before, ...after]) assert.ok(ids.has(record.messageId), `acknowledged event ${record.messageId} is on the topic`);
  });
});

test("the producer thread's options are checked at construction", () => {
  const writer = { brokers: ['127.0.0.1:9'], clientId: 'inlet-server', retries: 5 };
  assert.throws(() => new ProducerThread({ writer: { ...writer, clientId: 'has spaces' }, topics: ['raw-events'] }), /clientId/);
  assert.throws(() => new ProducerThread({ writer: { ...writer, retries: undefined }, topics: ['raw-events'] }), /retries/);
  assert.throws(() => new ProducerThread({ writer: { ...writer, mode: 'sideways' as never }, topics: ['raw-events'] }), /mode/);
});
