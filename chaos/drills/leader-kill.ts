// Three brokers, replication factor 3, min.insync.replicas 2: SIGKILL the partition's leader under
// load (writes must move to a new leader), then a second node (now no write can be durable:
// nothing may be acknowledged, and readiness should say so), then bring both back.
import { startKafkaCluster } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { freshTopic, leaderOf } from '../lib/kafka.ts';
import { checkAcknowledgedStored, ReadinessWatch, seconds, sleep, successesWithin, timeRecovery, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, ServerUnderTest, topicIds } from '../lib/servers.ts';

const DETECTION_GRACE_MS = 3000;

export const leaderKill: Drill = {
  name: 'leader-kill',
  title: 'partition leader killed (3 nodes, RF 3, min ISR 2), then a second node',
  description: 'A cluster of three nodes and a topic of one partition with replication factor 3 and '
    + '`min.insync.replicas=2`; the drill load runs against `inlet serve` with the Kafka sink. The partition '
    + "leader gets SIGKILL; writes must resume on a new leader. After 10 s (quick: 2 s) a second node gets "
    + 'SIGKILL too: with one node of three left, no write can meet `min.insync.replicas`, so no request sent '
    + 'then may get 200, and `/health/ready` should say 503 (from 3 s after the kill). After 22 s (quick: 8 s) '
    + 'both nodes are started again (quick: only the second, which is enough for min ISR 2). Recovery: kill of the first leader to the first 200 (failover), and '
    + 'both nodes serving again to the first 200. The server\'s bootstrap list names the surviving node '
    + 'first (any list names some node first), so the brokers it asks for metadata are alive.',
  needs: ['kafka'],
  async run(ctx) {
    const cluster = await startKafkaCluster({ brokers: 3 });
    ctx.defer(() => cluster.stop());
    const topic = await freshTopic(cluster.brokers, 'leader', { partitions: 1, replicationFactor: 3, minInsyncReplicas: 2 });
    // The victims: the leader, then the other node that is not `survivor`. The server's bootstrap
    // list names the survivor first (as any list names some node first).
    const first = await leaderOf(cluster.brokers, topic);
    const survivor = cluster.nodes.find((n) => n.id !== first)!.id;
    const second = cluster.nodes.find((n) => n.id !== first && n.id !== survivor)!.id;
    const address = (id: number) => cluster.brokers[cluster.nodes.findIndex((n) => n.id === id)];
    const env = { INLET_DATA_DIR: ctx.tmpdir('leader-kill'), KAFKA_BROKERS: [survivor, first, second].map(address).join(','), KAFKA_TOPIC: topic };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const readiness = new ReadinessWatch(() => server.url);
    ctx.defer(() => readiness.stop());
    const load = drillLoad(() => server.url, writeKey, 'lk-');
    let failedOver = false;
    let secondAt = 0;
    let restartAt = 0;
    let recovered = false;
    try {
      await waitFor('the load is acknowledged', () => load.acknowledged.size > 0, 30_000, 20);
      await sleep(ctx.quick ? 1000 : 5000);
      await cluster.stopNode(first, { kill: true });
      const firstAt = performance.now(); // the process is gone by now
      ctx.log(`leader ${first} killed with ${load.acknowledged.size} events acknowledged`);
      failedOver = await timeRecovery(ctx, load, firstAt, { count: 'sent' });
      await waitFor('a new leader is elected', async () => (await leaderOf([address(survivor)], topic).catch(() => first)) !== first, 60_000, 250);
      await sleep(ctx.quick ? 2000 : 10_000);

      await cluster.stopNode(second, { kill: true });
      secondAt = performance.now();
      ctx.log(`second node ${second} killed (the leader is now ${await leaderOf([address(survivor)], topic).catch(() => '?')}); one node of three left`);
      await sleep(ctx.quick ? 8000 : 22_000);

      restartAt = performance.now();
      // Quick: one node back is enough for min.insync.replicas 2 (and costs one JVM start, not two).
      await Promise.all((ctx.quick ? [second] : [first, second]).map((id) => cluster.startNode(id)));
      const upAt = performance.now();
      ctx.log(`${ctx.quick ? 'the second node is' : 'both nodes are'} serving again after ${seconds(upAt - restartAt)}`);
      recovered = await timeRecovery(ctx, load, upAt, { timeoutMs: 90_000 });
      await sleep(ctx.quick ? 1000 : 3000);
    } finally {
      await load.stop();
      await readiness.stop();
    }
    checkAcknowledgedStored(ctx, load, await topicIds(cluster.brokers, topic), 'lk-');
    ctx.check({ name: 'writes resume on a new leader after the leader is killed', ok: failedOver, detail: failedOver ? `first 200 ${seconds(ctx.measured.recoveryMs[0])} after the kill` : 'no 200 within 60 s' });
    const falseAcks = successesWithin(load, secondAt + 1000, restartAt);
    ctx.check({ name: 'no request sent while one node of three is up gets 200 (min.insync.replicas 2)', ok: falseAcks === 0, detail: `${falseAcks} did` });
    const lying = readiness.readyMs(secondAt + DETECTION_GRACE_MS, restartAt);
    ctx.check({
      name: '/health/ready says 503 while no write can meet min.insync.replicas (after 3 s to notice)',
      ok: lying === 0,
      detail: `said 200 for ${seconds(lying)} of the ${seconds(restartAt - secondAt - DETECTION_GRACE_MS)} no write could succeed`,
    });
    ctx.check({ name: 'writing resumes once the nodes are back', ok: recovered, detail: recovered ? `first 200 ${seconds(ctx.measured.recoveryMs.at(-1)!)} after they served again` : 'no 200 within 90 s' });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
    checkStatuses(ctx, load);
  },
};
