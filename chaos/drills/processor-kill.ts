// The deduplicating processor (`inlet process`) killed three times while events flow through the
// server into raw-events, repeats included: the events topic must end up with every acknowledged
// event exactly once.
import { freePort, spawnProcess, type InletChild } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { freshTopic } from '../lib/kafka.ts';
import { checkAcknowledgedStored, compare, mb, RssWatch, seconds, sleep, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, ServerUnderTest, topicIds } from '../lib/servers.ts';

/** The last lines a child printed, on one line, for a note. */
function lastLines(child: InletChild): string {
  return `${child.stdout()}\n${child.stderr()}`.trim().split('\n').slice(-3).join(' | ').slice(-600);
}

async function committedTransactions(port: number): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1000) })).text();
    return Number(/^inlet_processor_transactions_total (\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export const processorKill: Drill = {
  name: 'processor-kill',
  title: 'the processor (`inlet process`) SIGKILLed ×3: exactly once into `events`',
  description: 'The drill load runs against `inlet serve` with the Kafka sink into a fresh raw topic; every 5th '
    + 'acknowledged batch is sent a second time with the same messageIds (a client whose answer was lost), so '
    + 'the raw topic holds real repeats. One `inlet process` (Kafka transactions, a fixed instance id) reads '
    + 'it into a fresh events topic. Three times, after it has committed for 8 s (quick: 1 s, and the load at 100 requests/s), the processor '
    + 'gets SIGKILL and is started again at once. When the load stops, the drill waits until every '
    + 'acknowledged event is in the events topic (read committed; at most 120 s), then stops the processor and counts: '
    + 'lost and duplicates are measured on the events topic. Recovery: restart to the first committed '
    + 'transaction of the new process. Peak RSS is the server\'s; the processor\'s is in the notes.',
  needs: ['kafka'],
  async run(ctx) {
    const cluster = await ctx.kafka();
    const raw = await freshTopic(cluster.brokers, 'raw');
    const events = await freshTopic(cluster.brokers, 'events');
    const env = { INLET_DATA_DIR: ctx.tmpdir('processor-kill'), KAFKA_BROKERS: cluster.bootstrap, KAFKA_TOPIC: raw };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const metricsPort = await freePort();
    const args = ['--brokers', cluster.bootstrap, '--input', raw, '--output', events, '--group', `${raw}-group`, '--instance-id', 'chaos-1',
      '--session-timeout', '6000', '--log-interval', '0', '--metrics-port', String(metricsPort), '--metrics-host', '127.0.0.1'];
    const processorRss = new RssWatch();
    let processor: InletChild = spawnProcess(args);
    processorRss.watch(processor.pid);
    ctx.defer(() => processor.kill('SIGKILL'));
    const load = drillLoad(() => server.url, writeKey, 'pk-', { resendEvery: 5, retries: 2, requestsPerSecond: ctx.quick ? 100 : 250 });
    let recovered = 0;
    try {
      for (let kill = 1; kill <= 3; kill++) {
        await waitFor('the processor commits a transaction', async () => (await committedTransactions(metricsPort)) > 0 || !processor.running(), 90_000, 100);
        if (!processor.running()) throw new Error(`the processor exited: ${lastLines(processor)}`);
        await sleep(ctx.quick ? 1000 : 8000);
        await processor.kill('SIGKILL');
        ctx.log(`kill ${kill}: processor SIGKILLed with ${load.acknowledged.size} events acknowledged`);
        const restartedAt = performance.now();
        processor = spawnProcess(args);
        processorRss.watch(processor.pid);
        const back = await waitFor('the restarted processor commits', async () => (await committedTransactions(metricsPort)) > 0, 90_000, 100).then(() => true, () => false);
        if (back) {
          ctx.measured.recoveryMs.push(performance.now() - restartedAt);
          recovered++;
        } else {
          ctx.measured.notes.push(`after kill ${kill} the processor did not commit within 90 s (${processor.running() ? 'running' : 'exited'})`);
          ctx.log(`the processor's last output: ${lastLines(processor)}`);
        }
      }
      await sleep(ctx.quick ? 1000 : 5000);
    } finally {
      await load.stop();
    }
    ctx.log(`load stopped with ${load.acknowledged.size} events acknowledged; waiting (up to 120 s) for the processor to catch up`);
    const caughtUp = await waitFor('every acknowledged event is in the events topic', async () => compare(load.acknowledged, load.sent, await topicIds(cluster.brokers, events), 'pk-').lost === 0 || !processor.running(), 120_000, 2000)
      .then(() => processor.running(), () => false);
    if (!caughtUp) ctx.measured.notes.push(`the processor had not caught up 120 s after the load stopped (${processor.running() ? 'still running' : `it exited: ${lastLines(processor)}`})`);
    const exitedOnItsOwn = !processor.running();
    await processor.kill('SIGTERM');
    const rawIds = await topicIds(cluster.brokers, raw);
    const rawRepeats = rawIds.length - new Set(rawIds).size;
    const notInRaw = compare(load.acknowledged, load.sent, rawIds, 'pk-').lost;
    if (notInRaw > 0) ctx.measured.notes.push(`${notInRaw} acknowledged events are missing from the raw topic itself (the server's loss, not the processor's)`);
    const c = checkAcknowledgedStored(ctx, load, await topicIds(cluster.brokers, events), 'pk-', 'no acknowledged event is missing from the events topic');
    ctx.measured.notes.push(`raw topic: ${rawIds.length} records, ${rawRepeats} of them repeats; processor peak RSS ${mb(processorRss.stop())}`);
    ctx.check({ name: 'no event is in the events topic twice', ok: c.duplicates === 0 && c.unknown === 0, detail: `${c.duplicates} extra copies (of ${rawRepeats} repeats on the raw topic), ${c.unknown} ids never sent` });
    ctx.check({ name: 'the raw topic had repeats for the processor to remove', ok: rawRepeats > 0, detail: `${rawRepeats} repeats` });
    ctx.check({ name: 'the processor keeps running (it exits only when killed)', ok: !exitedOnItsOwn, detail: exitedOnItsOwn ? `it exited: ${lastLines(processor)}` : 'yes' });
    ctx.check({ name: 'the processor commits again after each kill', ok: recovered === 3, detail: `after ${recovered} of 3 kills (${ctx.measured.recoveryMs.map(seconds).join(', ')})` });
    checkStatuses(ctx, load);
  },
};
