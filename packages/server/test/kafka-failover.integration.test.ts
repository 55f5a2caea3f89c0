// Three brokers, replication factor 3, min.insync.replicas 2: SIGKILL the partition leader while
// writes flow. Every event whose write() resolved must be in the topic afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmin, forceClose } from '@inlet/kafka';
import { createTopic, needKafkaRuntime, startKafkaCluster } from '@inlet/testkit';
import { KafkaSink } from '../src/sinks/kafka-sink.ts';
import { eventually, writeContinuously, assertAcknowledgedInTopic } from './kafka-fixtures.ts';

// Runs wherever a cluster can be started (Java and the broker jars), whether or not KAFKA_BROKERS is set.
const kafka = await needKafkaRuntime();
const quiet = { info() {}, warn() {}, error() {} };

async function leaderOf(brokers: string[], topic: string): Promise<number> {
  const admin = createAdmin({ brokers, clientId: 'failover-test' });
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    return metadata.topics.get(topic)!.partitions[0].leader;
  } finally {
    await forceClose(admin);
  }
}

test('killing the partition leader loses no acknowledged event', { skip: kafka.skip, timeout: 110_000 }, async (t) => {
  const cluster = await startKafkaCluster({ brokers: 3 });
  const topic = `inlet-failover-${Date.now()}`;
  const sink = new KafkaSink({ brokers: cluster.brokers, topic, writeTimeoutMs: 5000, logger: quiet });
  try {
    await createTopic(cluster.brokers, topic, { partitions: 1, replicationFactor: 3, minInsyncReplicas: 2 });
    const leader = await leaderOf(cluster.brokers, topic);

    const log = writeContinuously(sink);
    await eventually('some writes are acknowledged', () => log.acked.size >= 200);
    await cluster.stopNode(leader, { kill: true });
    const ackedBeforeKill = log.acked.size;
    // The survivors elect a new leader once the dead one is fenced; writes then succeed again.
    await eventually('writes are acknowledged after the kill', () => log.acked.size >= ackedBeforeKill + 300, 60_000);
    await log.stop();

    t.diagnostic(`${log.acked.size} events acknowledged, ${log.rejected} writes refused`);
    assert.notEqual(await leaderOf(cluster.brokers, topic), leader, 'leadership moved');
    await assertAcknowledgedInTopic(log, cluster.brokers, topic);
  } finally {
    await sink.close();
    await cluster.stop();
  }
});
