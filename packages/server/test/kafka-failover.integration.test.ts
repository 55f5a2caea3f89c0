// Three brokers, replication factor 3, min.insync.replicas 2: SIGKILL the partition leader while
// writes flow. Every event whose write() resolved must be in the topic afterwards. Readiness of a
// topic that needs all three replicas in sync says no while the node is down, yes once it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAdmin, forceClose } from '@inlet/kafka';
import { createTopic, needKafkaRuntime, startKafkaCluster } from '@inlet/testkit';
import { KafkaSink } from '../src/sinks/kafka-sink.ts';
import { eventually, storedEvent, writeContinuously, assertAcknowledgedInTopic } from './kafka-fixtures.ts';

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

test('killing the partition leader loses no acknowledged event; readiness follows the in-sync replicas min.insync.replicas asks for', { skip: kafka.skip, timeout: 200_000 }, async (t) => {
  const cluster = await startKafkaCluster({ brokers: 3 });
  const topic = `inlet-failover-${Date.now()}`;
  const strictTopic = `${topic}-strict`;
  const sink = new KafkaSink({ brokers: cluster.brokers, topic, writeTimeoutMs: 5000, logger: quiet });
  try {
    await createTopic(cluster.brokers, topic, { partitions: 1, replicationFactor: 3, minInsyncReplicas: 2 });
    await createTopic(cluster.brokers, strictTopic, { partitions: 2, replicationFactor: 3, minInsyncReplicas: 3 });
    const leader = await leaderOf(cluster.brokers, topic);

    const log = writeContinuously(sink);
    await eventually('some writes are acknowledged', () => log.acked.size >= 200);
    await cluster.stopNode(leader, { kill: true });
    const ackedBeforeKill = log.acked.size;
    // The survivors elect a new leader once the dead one is fenced; writes then succeed again.
    await eventually('writes are acknowledged after the kill', () => log.acked.size >= ackedBeforeKill + 300, 60_000);
    await log.stop();

    t.diagnostic(`${log.acked.size} events acknowledged, ${log.rejected} writes refused`);
    const newLeader = await leaderOf(cluster.brokers, topic);
    assert.notEqual(newLeader, leader, 'leadership moved');
    await assertAcknowledgedInTopic(log, cluster.brokers, topic);
    assert.equal(await sink.ready(), true, 'ready on the new leader: two in-sync replicas meet min.insync.replicas 2');

    // A topic that asks for three in-sync replicas cannot take an acks=all write with a node down:
    // a sink that has sent nothing learns it from its probe once the cluster has shrunk the ISR,
    // and is ready again when the node is back in sync.
    const strict = new KafkaSink({ brokers: cluster.brokers, topic: strictTopic, writeTimeoutMs: 5000, logger: quiet });
    try {
      await eventually('the probe sees 2 in-sync replicas of the 3 required', async () => !(await strict.ready()), 30_000);
      await cluster.startNode(leader);
      await eventually('ready once the node is back in sync', () => strict.ready(), 60_000);
      await strict.write([storedEvent(1)]);
    } finally {
      await strict.close();
    }
  } finally {
    await sink.close();
    await cluster.stop();
  }
});
