// The only broker down for 30 s under load: writes get 503 (never a false 200), readiness says
// so, nothing acknowledged is lost, and writing resumes once the broker is back.
import type { Drill } from '../lib/drill.ts';
import { freshTopic } from '../lib/kafka.ts';
import { checkAcknowledgedStored, ReadinessWatch, seconds, sleep, successesWithin, timeRecovery, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, ServerUnderTest, topicIds } from '../lib/servers.ts';

/** Readiness may take this long to notice (it caches its probe for 1 s; the hardening may poll). */
const DETECTION_GRACE_MS = 3000;

export const brokerDown: Drill = {
  name: 'broker-down',
  title: 'the broker down for 30 s under load',
  description: 'The drill load runs against `inlet serve` with the Kafka sink on a one-broker cluster. The broker '
    + 'gets SIGKILL, stays down 30 s (quick: 8 s), and is started again on its data. `/health/ready` is polled '
    + 'every 250 ms throughout. While the broker is down no write can be made durable, so no request sent '
    + 'then may get 200; readiness should say 503 from at most 3 s after the kill. At the end the topic is '
    + 'read back. Recovery: from the broker serving again to the first 200.',
  needs: ['kafka'],
  async run(ctx) {
    const cluster = await ctx.kafka();
    const topic = await freshTopic(cluster.brokers, 'broker-down');
    const env = { INLET_DATA_DIR: ctx.tmpdir('broker-down'), KAFKA_BROKERS: cluster.bootstrap, KAFKA_TOPIC: topic };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const readiness = new ReadinessWatch(() => server.url);
    ctx.defer(() => readiness.stop());
    const load = drillLoad(() => server.url, writeKey, 'bd-');
    let downAt = 0;
    let restartAt = 0;
    let recovered = false;
    try {
      await waitFor('the load is acknowledged', () => load.acknowledged.size > 0, 30_000, 20);
      await sleep(ctx.quick ? 1000 : 5000);
      const node = cluster.nodes[0].id;
      await cluster.stopNode(node, { kill: true });
      downAt = performance.now(); // the process is gone by now
      ctx.log(`broker killed with ${load.acknowledged.size} events acknowledged`);
      await sleep(ctx.quick ? 8000 : 30_000);
      restartAt = performance.now();
      await cluster.startNode(node);
      const upAt = performance.now();
      ctx.log(`broker serving again after ${seconds(upAt - restartAt)}`);
      recovered = await timeRecovery(ctx, load, upAt);
      await sleep(ctx.quick ? 1000 : 3000);
    } finally {
      await load.stop();
      await readiness.stop();
    }
    checkAcknowledgedStored(ctx, load, await topicIds(cluster.brokers, topic), 'bd-');
    // Requests in flight at the kill may still have been acknowledged by the broker: count from 1 s after.
    const falseAcks = successesWithin(load, downAt + 1000, restartAt);
    ctx.check({ name: 'no request sent while the broker is down gets 200', ok: falseAcks === 0, detail: `${falseAcks} did` });
    const lying = readiness.readyMs(downAt + DETECTION_GRACE_MS, restartAt);
    ctx.check({
      name: '/health/ready says 503 while the broker is down (after 3 s to notice)',
      ok: lying === 0,
      detail: `said 200 for ${seconds(lying)} of the ${seconds(restartAt - downAt - DETECTION_GRACE_MS)} it should not have`,
    });
    ctx.check({ name: 'writing resumes once the broker is back', ok: recovered, detail: recovered ? `first 200 after ${seconds(ctx.measured.recoveryMs[0])}` : 'no 200 within 60 s' });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
    checkStatuses(ctx, load);
  },
};
