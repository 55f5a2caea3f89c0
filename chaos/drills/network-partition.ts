// The broker in a network namespace of its own, the server outside, a veth pair between them:
// a real partition (the link down: packets vanish), a flapping link, and a starved one (a
// token bucket), each under load. Nothing acknowledged may be lost, no 200 may be given while
// the broker cannot be reached, and writing must resume after each.
import { startKafkaCluster } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { freshTopic } from '../lib/kafka.ts';
import { checkAcknowledgedStored, ReadinessWatch, seconds, sleep, successesWithin, timeRecovery, waitFor } from '../lib/measure.ts';
import { namespaceLink } from '../lib/netns.ts';
import { checkStatuses, createSource, drillLoad, ServerUnderTest, topicIds } from '../lib/servers.ts';

const DETECTION_GRACE_MS = 3000;

export const networkPartition: Drill = {
  name: 'network-partition',
  title: 'server and broker partitioned, then a flapping link, then a starved link (veth, netns)',
  description: 'A one-node Kafka cluster runs in a network namespace of its own, listening on its end of a veth '
    + 'pair; `inlet serve` (Kafka sink) and the drill load run outside. Three faults, each under load: the '
    + 'namespace\'s end of the link is taken down for 30 s (quick: 5 s) — a real partition: the server\'s '
    + 'packets vanish, nothing is refused; then the link flaps, down and up every second, for 20 s (quick: 3 s); '
    + 'then both ends get a 64 kbit/s token bucket (tbf) for 20 s (quick: 3 s). `/health/ready` is polled '
    + 'throughout. Recovery: from each fault\'s end to the first 200. What is real: the link state and the '
    + 'bandwidth limit are the kernel\'s. What is missing: added latency and random loss (this kernel has no '
    + 'sch_netem, and no tc actions to drop packets).',
  needs: ['kafka', 'root'],
  async run(ctx) {
    const link = namespaceLink(ctx);
    const cluster = await startKafkaCluster({ brokers: 1, netns: { name: link.ns, host: link.nsAddress } });
    ctx.defer(() => cluster.stop());
    const topic = await freshTopic(cluster.brokers, 'partition');
    const env = { INLET_DATA_DIR: ctx.tmpdir('network-partition'), KAFKA_BROKERS: cluster.bootstrap, KAFKA_TOPIC: topic };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const readiness = new ReadinessWatch(() => server.url);
    ctx.defer(() => readiness.stop());
    const load = drillLoad(() => server.url, writeKey, 'np-');
    const recovered: string[] = [];
    let cutAt = 0;
    let healAt = 0;
    const phase = async (what: string, ms: number, start: () => Promise<void> | void, end: () => void) => {
      await start();
      const startedAt = performance.now();
      await sleep(ms);
      end();
      const endedAt = performance.now();
      ctx.measured.notes.push(`${what}: ${seconds(endedAt - startedAt)}, ${successesWithin(load, startedAt, endedAt)} requests sent and acknowledged within it`);
      const back = await timeRecovery(ctx, load, endedAt);
      recovered.push(`${what}: ${back ? `first 200 after ${seconds(ctx.measured.recoveryMs.at(-1)!)}` : 'no 200 within 60 s'}`);
      ctx.log(`${what} over; ${recovered.at(-1)}`);
      await sleep(ctx.quick ? 1000 : 5000);
      return back;
    };
    let allBack = true;
    try {
      await waitFor('the load is acknowledged', () => load.acknowledged.size > 0, 30_000, 20);
      await sleep(ctx.quick ? 1000 : 5000);
      allBack &&= await phase('partition', ctx.quick ? 5000 : 30_000, () => { link.down(); cutAt = performance.now(); }, () => { healAt = performance.now(); link.up(); });
      let flapping: NodeJS.Timeout | undefined;
      let isDown = false;
      allBack &&= await phase('flapping link', ctx.quick ? 3000 : 20_000, () => {
        flapping = setInterval(() => { isDown = !isDown; if (isDown) link.down(); else link.up(); }, 1000);
      }, () => { clearInterval(flapping); link.up(); });
      allBack &&= await phase('64 kbit/s link', ctx.quick ? 3000 : 20_000, () => link.limit(64), () => link.unlimit());
    } finally {
      link.up();
      await load.stop();
      await readiness.stop();
    }
    checkAcknowledgedStored(ctx, load, await topicIds(cluster.brokers, topic), 'np-');
    const falseAcks = successesWithin(load, cutAt + 1000, healAt);
    ctx.check({ name: 'no request sent during the partition gets 200', ok: falseAcks === 0, detail: `${falseAcks} did` });
    const lying = readiness.readyMs(cutAt + DETECTION_GRACE_MS, healAt);
    ctx.check({ name: '/health/ready says 503 during the partition (after 3 s to notice)', ok: lying === 0, detail: `said 200 for ${seconds(lying)} of ${seconds(healAt - cutAt - DETECTION_GRACE_MS)}` });
    ctx.check({ name: 'writing resumes after each fault', ok: allBack && recovered.length === 3, detail: recovered.join('; ') });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
    checkStatuses(ctx, load);
  },
};
