// One broker stopped while writes flow: writes are refused within the bound and ready() turns
// false; after a restart writes succeed and ready() turns true again, without a new sink.
// Every event whose write() resolved must be in the topic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTopic, needKafkaRuntime, startKafkaCluster } from '@inlet/testkit';
import { SinkUnavailableError } from '../src/errors.ts';
import { KafkaSink } from '../src/sinks/kafka-sink.ts';
import { storedEvent, eventually, writeContinuously, assertAcknowledgedInTopic } from './kafka-fixtures.ts';

const kafka = await needKafkaRuntime();
const quiet = { info() {}, warn() {}, error() {} };

test('a stopped broker makes writes fail fast; a restarted one takes them again', { skip: kafka.skip, timeout: 110_000 }, async (t) => {
  const cluster = await startKafkaCluster({ brokers: 1 });
  const topic = `inlet-restart-${Date.now()}`;
  const writeTimeoutMs = 2000;
  const sink = new KafkaSink({ brokers: cluster.brokers, topic, writeTimeoutMs, logger: quiet });
  try {
    await createTopic(cluster.brokers, topic, { partitions: 2, replicationFactor: 1 });
    assert.equal(await sink.ready(), true);

    const log = writeContinuously(sink);
    await eventually('some writes are acknowledged', () => log.acked.size >= 200);
    await cluster.stopNode(1);
    const ackedWhileUp = log.acked.size;

    const started = Date.now();
    await assert.rejects(sink.write([storedEvent(-1)]), SinkUnavailableError);
    assert.ok(Date.now() - started < writeTimeoutMs + 3000, `a write to a stopped broker took ${Date.now() - started} ms to fail`);
    await eventually('ready() turns false', async () => (await sink.ready()) === false, 10_000);
    const rejectedWhileDown = log.rejected;
    assert.ok(rejectedWhileDown > 0, 'writes were refused while the broker was down');

    await cluster.startNode(1);
    await eventually('ready() turns true again', async () => (await sink.ready()) === true, 30_000);
    await eventually('writes are acknowledged after the restart', () => log.acked.size >= ackedWhileUp + 200, 30_000);
    await log.stop();

    t.diagnostic(`${log.acked.size} events acknowledged, ${log.rejected} writes refused`);
    await assertAcknowledgedInTopic(log, cluster.brokers, topic);
  } finally {
    await sink.close();
    await cluster.stop();
  }
});
