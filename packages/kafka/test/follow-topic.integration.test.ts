// followTopic: what a watcher (the console's live view) reads — records written after it started,
// as they arrive, none from before, on every partition; and it stops when told. With `newest`, a
// burst far larger than what it shows is jumped over (counted, not fetched), never into an
// aborted transaction's records.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createTopic, needKafka } from '@inlet/testkit';
import { createAdmin, createIdempotentProducer, createTransactionalProducer, followTopic, forceClose, type BufferProducer } from '../src/index.ts';

const kafka = await needKafka();

describe('following a topic from its end', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];
  const topic = `inlet-follow-${randomUUID()}`;
  const burstTopic = `inlet-follow-burst-${randomUUID()}`;
  after(async () => {
    const admin = createAdmin({ brokers, clientId: 'inlet-follow-test' });
    try { await admin.deleteTopics({ topics: [topic, burstTopic] }); } finally { await forceClose(admin); }
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

  test('with newest, a committed burst far larger than the window is jumped over and counted; the newest are shown; nothing aborted is', { timeout: 60_000 }, async () => {
    await createTopic(brokers, burstTopic, { partitions: 1, replicationFactor: 1 });
    const BURST = 3000;
    const KEEP = 200;
    // Random (base64) filler: the producer compresses, and 1000 x's would shrink to nothing.
    const value = (prefix: string, i: number) => Buffer.from(`${prefix}-${i}-${randomBytes(750).toString('base64')}`);
    const seen: string[] = [];
    let skipped = 0;
    const abort = new AbortController();
    const following = followTopic({
      brokers, clientId: 'inlet-follow-test', topic: burstTopic, signal: abort.signal,
      newest: { records: KEEP, everyMs: 100, onSkipped: (count) => { skipped += count; } },
      maxBytes: 64 << 10, partitionMaxBytes: 64 << 10,
    }, (records) => {
      for (const r of records) seen.push(r.value!.toString().split('-').slice(0, 2).join('-'));
    });
    const producers: BufferProducer[] = [];
    try {
      await following.started;
      const producer = await createTransactionalProducer({ brokers, clientId: 'inlet-follow-test', transactionalId: `inlet-follow-${randomUUID()}`, retries: 3 });
      producers.push(producer);
      // Each transaction's records become readable at once, when it commits: however fast the
      // follower, it finds the whole burst there, far more than one fetch may carry.
      const write = async (prefix: string, count: number, commit: boolean) => {
        const transaction = await producer.beginTransaction();
        for (let i = 0; i < count; i += 100) {
          await transaction.send({ messages: Array.from({ length: Math.min(100, count - i) }, (_, j) => ({ topic: burstTopic, partition: 0, key: Buffer.from('k'), value: value(prefix, i + j) })) });
        }
        if (commit) await transaction.commit(); else await transaction.abort();
      };
      await write('committed', BURST, true);
      // An aborted burst and a small committed tail: a jump lands inside the aborted records.
      await write('aborted', BURST, false);
      await write('tail', 10, true);
      const deadline = Date.now() + 10_000;
      while (!seen.includes('tail-9') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

      const committed = seen.filter((v) => v.startsWith('committed-'));
      assert.deepEqual(seen.filter((v) => v.startsWith('aborted-')), [], 'no record of the aborted transaction');
      assert.deepEqual(seen.filter((v) => v.startsWith('tail-')), Array.from({ length: 10 }, (_, i) => `tail-${i}`), 'the newest records, all of them, in order');
      // One fetch is 64 kB (a producer batch at most): the burst's first records, then a jump.
      assert.ok(committed.length < BURST / 4, `${committed.length} of the ${BURST} committed records fetched`);
      // Offsets, not records, are counted: what was jumped over and what was shown cover both bursts.
      assert.ok(skipped + committed.length >= BURST, `${skipped} skipped and ${committed.length} shown of the committed burst`);
      assert.ok(skipped <= 2 * BURST + 2, `${skipped} skipped: no more than the offsets written`);
    } finally {
      abort.abort();
      await following.done;
      await Promise.all(producers.map((p) => forceClose(p)));
    }
  });
});
