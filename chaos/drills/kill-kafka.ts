// SIGKILL the server three times under load (Kafka sink): what it acknowledged must be on the
// topic. Repeats on raw-events are allowed (clients retry; the processor removes them).
import type { Drill } from '../lib/drill.ts';
import { freshTopic } from '../lib/kafka.ts';
import { checkAcknowledgedStored, seconds, sleep } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, killRepeatedly, ServerUnderTest, topicIds } from '../lib/servers.ts';

export const killKafka: Drill = {
  name: 'kill-kafka',
  title: 'SIGKILL the server under load ×3 (Kafka sink)',
  description: 'The drill load runs against `inlet serve` with the Kafka sink (one broker, a fresh topic of 3 '
    + 'partitions); a client retries a refused batch twice with the same messageIds, as the SDKs do. Three '
    + 'times, after a stretch of load (6 s; quick: 1 s), the server gets SIGKILL and is started again at once. '
    + 'At the end the topic is read back: every acknowledged messageId must be on it. Repeats on `raw-events` '
    + 'are counted as duplicates but allowed (a retried batch may have been written before the kill; the '
    + 'processor removes repeats). Recovery: from the kill to the first 200 from the restarted server.',
  needs: ['kafka'],
  async run(ctx) {
    const cluster = await ctx.kafka();
    const topic = await freshTopic(cluster.brokers, 'kill');
    const env = { INLET_DATA_DIR: ctx.tmpdir('kill-kafka'), KAFKA_BROKERS: cluster.bootstrap, KAFKA_TOPIC: topic };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const load = drillLoad(() => server.url, writeKey, 'kk-', { retries: 2 });
    let recovered = 0;
    try {
      recovered = await killRepeatedly(ctx, server, load);
      await sleep(ctx.quick ? 500 : 3000);
    } finally {
      await load.stop();
    }
    const c = checkAcknowledgedStored(ctx, load, await topicIds(cluster.brokers, topic), 'kk-', 'no acknowledged event is lost across three SIGKILLs');
    ctx.check({ name: 'nothing on the topic that no client sent', ok: c.unknown === 0, detail: `${c.unknown} unknown ids; ${c.duplicates} repeats from retries (the processor's to remove)` });
    ctx.check({
      name: 'the server comes back and takes writes after each kill',
      ok: recovered === 3,
      detail: `recovered after ${recovered} of 3 kills (${ctx.measured.recoveryMs.map(seconds).join(', ')})`,
    });
    checkStatuses(ctx, load);
  },
};
