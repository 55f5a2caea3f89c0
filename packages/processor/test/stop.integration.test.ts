// `inlet process` stopping while its brokers do not answer: a graceful stop would wait for them
// for as long as they are gone (minutes with a frozen broker), so the process gives up after its
// transaction timeout and a margin. A private broker, frozen with SIGSTOP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTopic, needKafkaRuntime, startKafkaCluster } from '@inlet/testkit';
import { STOP_MARGIN_MS } from '../src/cli.ts';
import { uniqueName, waitFor } from './kafka-helpers.ts';
import { ProcessorChild } from './processor-child.ts';

const kafka = await needKafkaRuntime();

test('SIGTERM with the brokers frozen: the process exits after its transaction timeout and a margin, not when they wake', { skip: kafka.skip, timeout: 120_000 }, async () => {
  const cluster = await startKafkaCluster({ brokers: 1 });
  const pid = cluster.nodes[0].pid!;
  try {
    const [input, output] = [uniqueName('stop-raw'), uniqueName('stop-events')];
    await createTopic(cluster.bootstrap, input, { partitions: 1, replicationFactor: 1 });
    await createTopic(cluster.bootstrap, output, { partitions: 1, replicationFactor: 1 });
    const child = new ProcessorChild(uniqueName('stop'), ['--brokers', cluster.bootstrap, '--group', uniqueName('stop-group'), '--input', input, '--output', output, '--transaction-timeout', '1000']);
    await child.start();
    await waitFor('started', () => child.logged('processor started').length > 0, 60_000);
    process.kill(pid, 'SIGSTOP');
    const signalledAt = Date.now();
    // ProcessorChild sends SIGKILL after 20 s: the process must be gone before that, by itself.
    await child.kill('SIGTERM');
    const tookMs = Date.now() - signalledAt;
    assert.equal(child.logged('could not stop cleanly in time (brokers not answering); exiting').length, 1, child.tail.join('\n'));
    assert.ok(tookMs < 1000 + STOP_MARGIN_MS + 5000, `exited after ${tookMs} ms`);
  } finally {
    process.kill(pid, 'SIGCONT');
    await cluster.stop();
  }
});
