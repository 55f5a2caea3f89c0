import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createIdempotentProducer } from '@inlet/kafka';
import { createTopic, readAll, startKafkaCluster } from '../src/kafka.ts';
import { needKafkaRuntime } from '../src/services.ts';

// Where Kafka is expected (KAFKA_BROKERS set, as in CI), Java and Maven are there to start our own.
const kafka = await needKafkaRuntime();

/** True while the pid runs a process (a zombie waiting to be reaped does not count). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('startKafkaCluster', { skip: kafka.skip }, () => {
  test('a one-node cluster takes records and reads them back, and stop ends its process', { timeout: 90_000 }, async () => {
    const cluster = await startKafkaCluster({ brokers: 1 });
    const pid = cluster.nodes[0].pid;
    try {
      assert.equal(cluster.bootstrap, `127.0.0.1:${cluster.nodes[0].port}`);
      assert.ok(pid && pidRuns(pid), 'the broker runs after start');

      const topic = `testkit-${Date.now()}`;
      await createTopic(cluster.bootstrap, topic, { partitions: 2, replicationFactor: 1 });
      const producer = createIdempotentProducer({ brokers: cluster.brokers, clientId: 'testkit-test', retries: 3 });
      try {
        await producer.send({
          messages: [
            { topic, key: 'u1', value: '{"n":1}', headers: { 'message-id': 'm1' } },
            { topic, key: 'u2', value: '{"n":2}', headers: { 'message-id': 'm2' } },
            { topic, key: 'u1', value: '{"n":3}', headers: { 'message-id': 'm3' } },
          ],
        });
      } finally {
        await producer.close();
      }

      const records = await readAll(cluster.bootstrap, topic);
      const byId = new Map(records.map((r) => [r.headers['message-id'], r]));
      assert.equal(records.length, 3);
      assert.deepEqual(byId.get('m1') && { key: byId.get('m1')!.key, value: byId.get('m1')!.value }, { key: 'u1', value: '{"n":1}' });
      assert.equal(byId.get('m2')?.key, 'u2');
      // Same key, same partition, in order.
      assert.equal(byId.get('m1')?.partition, byId.get('m3')?.partition);
      assert.ok(byId.get('m1')!.offset < byId.get('m3')!.offset);
    } finally {
      await cluster.stop();
    }
    assert.ok(!pidRuns(pid!), 'the broker process is gone after stop');
    assert.ok(!existsSync(cluster.dir), 'the cluster directory is removed');
  });
});
