// The reproduction of @platformatic/kafka issue 326, kept as a test: with 1.x, one idempotent
// producer with two produce requests in flight to one partition numbered both from the last
// acknowledged sequence, so when the batches were of equal size the broker took the second for a
// retry of the first — both sends resolved, only the first batch was stored. 2.3.0 (#310) takes
// each send's sequence numbers when it is sent. The sink's default 'pipelined' mode relies on it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTopic, needKafka, readAll } from '@inlet/testkit';
import { createAdmin, createIdempotentProducer, forceClose, KafkaWriter, PIPELINE_DEPTH } from '../src/index.ts';

const kafka = await needKafka();

const SENDS = 40;
const PER_SEND = 10;

describe('several sends in flight on one idempotent producer (upstream issue 326)', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];
  const topics: string[] = [];

  async function onePartitionTopic(): Promise<string> {
    const topic = `inlet-in-flight-${randomUUID()}`;
    await createTopic(brokers, topic, { partitions: 1, replicationFactor: 1 });
    topics.push(topic);
    return topic;
  }

  after(async () => {
    const admin = createAdmin({ brokers, clientId: 'inlet-in-flight-test' });
    try {
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await forceClose(admin);
    }
  });

  /** SENDS batches of PER_SEND equal-sized records, every one to partition 0, all sent at once. */
  function batches(topic: string, round: string) {
    return Array.from({ length: SENDS }, (_, s) => Array.from({ length: PER_SEND }, (_, r) => ({
      topic,
      partition: 0,
      key: 'same-user',
      value: `${round}-${String(s).padStart(3, '0')}-${String(r).padStart(3, '0')}`, // equal sizes on purpose
    })));
  }

  function assertEachOnce(values: string[], expected: string[]) {
    const counts = new Map<string, number>();
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
    const missing = expected.filter((v) => !counts.has(v));
    const twice = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${expected.length} records missing`);
    assert.deepEqual(twice.slice(0, 5), [], `${twice.length} records stored more than once`);
    assert.equal(values.length, expected.length);
  }

  test('concurrent equal-sized sends to one partition are all stored, each once, at distinct offsets', { timeout: 60_000 }, async () => {
    const topic = await onePartitionTopic();
    const producer = createIdempotentProducer({ brokers, clientId: 'inlet-in-flight-test', retries: 3 });
    const sent = batches(topic, 'a');
    let results;
    try {
      results = await Promise.all(sent.map((messages) => producer.send({ messages })));
    } finally {
      await forceClose(producer);
    }
    const baseOffsets = results.map((r) => r.offsets?.[0]?.offset);
    assert.equal(new Set(baseOffsets.map(String)).size, SENDS, 'every send was acknowledged at its own offset');
    assertEachOnce((await readAll(brokers, topic)).map((r) => r.value), sent.flat().map((m) => m.value));
  });

  test("the writer's pipelined mode keeps every record through many rounds of full pipelines", { timeout: 60_000 }, async () => {
    const topic = await onePartitionTopic();
    const writer = new KafkaWriter({ brokers, clientId: 'inlet-in-flight-test', retries: 3, mode: 'pipelined' });
    const expected: string[] = [];
    try {
      for (let round = 0; round < SENDS / PIPELINE_DEPTH; round++) {
        const inFlight = batches(topic, `r${round}`).slice(0, PIPELINE_DEPTH);
        expected.push(...inFlight.flat().map((m) => m.value));
        await Promise.all(inFlight.map((messages) => writer.send(messages, 10_000)));
      }
    } finally {
      await writer.close();
    }
    assertEachOnce((await readAll(brokers, topic)).map((r) => r.value), expected);
  });
});
