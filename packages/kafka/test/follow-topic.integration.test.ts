// followTopic: what a watcher (the console's live view) reads — records written after it started,
// as they arrive, none from before, on every partition; and it stops when told.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTopic, needKafka } from '@inlet/testkit';
import { createAdmin, createIdempotentProducer, followTopic, forceClose } from '../src/index.ts';

const kafka = await needKafka();

describe('following a topic from its end', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];
  const topic = `inlet-follow-${randomUUID()}`;
  after(async () => {
    const admin = createAdmin({ brokers, clientId: 'inlet-follow-test' });
    try { await admin.deleteTopics({ topics: [topic] }); } finally { await forceClose(admin); }
  });

  test('delivers records written after the start on every partition, none from before, and stops on abort', { timeout: 60_000 }, async () => {
    await createTopic(brokers, topic, { partitions: 3, replicationFactor: 1 });
    const producer = createIdempotentProducer({ brokers, clientId: 'inlet-follow-test', retries: 3 });
    try {
      await producer.send({ messages: [0, 1, 2].map((partition) => ({ topic, partition, key: 'k', value: `before-${partition}` })) });
      const seen: string[] = [];
      const abort = new AbortController();
      const following = followTopic({ brokers, clientId: 'inlet-follow-test', topic, signal: abort.signal }, (records) => {
        for (const r of records) seen.push(`${r.partition}:${r.value?.toString()}`);
      });
      await following.started;
      const sentAt = Date.now();
      await producer.send({ messages: [0, 1, 2].map((partition) => ({ topic, partition, key: 'k', value: `after-${partition}` })) });
      while (seen.length < 3 && Date.now() - sentAt < 5000) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(seen.sort(), ['0:after-0', '1:after-1', '2:after-2']);
      assert.ok(Date.now() - sentAt < 1000, `delivered ${Date.now() - sentAt} ms after the send`);
      abort.abort();
      await following.done;
      await producer.send({ messages: [{ topic, partition: 0, key: 'k', value: 'after-stop' }] });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(seen.length, 3, 'nothing after the abort');
    } finally {
      await forceClose(producer);
    }
  });
});
