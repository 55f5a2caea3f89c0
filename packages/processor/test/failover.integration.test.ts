// A crash of one processor instance must not stall the others. Each instance is a static member of
// the group (its --instance-id is its group.instance.id): a killed instance restarted within the
// session timeout takes its own partitions back without a rebalance, so the survivor never stops;
// one that stays dead has its partitions moved to the survivor when its session expires. Through
// both, every event comes out exactly once. (How long each takes: bench/processor-failover.ts.)
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { changelogTopic } from '@inlet/kafka';
import { needKafka } from '@inlet/testkit';
import { createTopics, deleteTopics, groupLag, messageIdOf, rawProducer, rawRecord, readCommitted, uniqueName, waitFor } from './kafka-helpers.ts';
import { ProcessorChild, type LogLine } from './processor-child.ts';

const need = await needKafka();
const PARTITIONS = 6;
const SESSION_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Produces a few events to every partition's users every 50 ms until stopped; ~5% are retries of recent ones. */
function steadyInput(brokers: string[], topic: string) {
  const unique = new Set<string>();
  const recent: { messageId: string; userId: string; receivedAt: number }[] = [];
  let n = 0;
  let running = true;
  const producer = rawProducer(brokers);
  const loop = (async () => {
    while (running) {
      const batch = [];
      for (let i = 0; i < 40; i++) {
        if (recent.length > 10 && Math.random() < 0.05) {
          batch.push(rawRecord(topic, { ...recent[Math.floor(Math.random() * recent.length)], sourceId: 'src-f' }));
          continue;
        }
        const event = { messageId: `f${n++}`, userId: `u${n % 97}`, receivedAt: Date.now() };
        unique.add(event.messageId);
        recent.push(event);
        if (recent.length > 200) recent.shift();
        batch.push(rawRecord(topic, { ...event, sourceId: 'src-f' }));
      }
      await producer.send({ messages: batch });
      await sleep(50);
    }
    await producer.close();
  })();
  return { unique, stop: async () => { running = false; await loop; } };
}

const partitionsOf = (line: LogLine | undefined) => JSON.stringify(line?.partitions ?? null);

describe('failover between two processor processes (real Kafka)', { skip: need.skip }, () => {
  const brokers = (need.value ?? '').split(',');
  const topics: string[] = [];
  const children: ProcessorChild[] = [];

  after(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await deleteTopics(brokers, topics).catch(() => undefined);
  });

  test('the survivor keeps committing through a SIGKILL and restart of the other; a dead instance\'s partitions move to it; nothing is lost or doubled', { timeout: 240_000 }, async () => {
    const input = uniqueName('failover-raw');
    const output = uniqueName('failover-events');
    const groupId = uniqueName('failover-group');
    topics.push(input, output, changelogTopic(groupId));
    await createTopics(brokers, [input, output], PARTITIONS);
    const args = ['--brokers', brokers.join(','), '--group', groupId, '--input', input, '--output', output, '--log-interval', '0', '--session-timeout', String(SESSION_TIMEOUT_MS), '--max-batch', '500'];
    const a = new ProcessorChild('a', args);
    const b = new ProcessorChild('b', args);
    children.push(a, b);
    const load = steadyInput(brokers, input);
    const committing = async (child: ProcessorChild, after: number) => ((await child.transactions()) ?? 0) > after;
    try {
      await a.start();
      await b.start();
      await waitFor('both instances to own partitions and commit', async () => {
        const last = (c: ProcessorChild) => c.logged('partitions assigned').at(-1) as { partitions?: number[] } | undefined;
        return (last(a)?.partitions?.length ?? 0) > 0 && (last(b)?.partitions?.length ?? 0) > 0
          && (last(a)!.partitions!.length + last(b)!.partitions!.length === PARTITIONS) && (await committing(a, 0)) && (await committing(b, 0));
      }, 60_000, 200);
      const aAssignments = a.logged('partitions assigned').length;
      const bPartitions = partitionsOf(b.logged('partitions assigned').at(-1));

      // 1. SIGKILL b and restart it at once, as a supervisor would.
      const before = (await a.transactions())!;
      await b.kill('SIGKILL');
      await b.start();
      await waitFor('the restarted instance to commit', () => committing(b, 0), 60_000, 100);
      assert.equal(partitionsOf(b.logged('partitions assigned')[0]), bPartitions, 'the restarted instance got its own partitions back');
      assert.equal(a.logged('partitions assigned').length, aAssignments, 'the survivor was not rebalanced');
      assert.ok((await a.transactions())! > before, 'the survivor committed while the other was dead and restarting');

      // 2. SIGKILL b and leave it dead: once its session expires, its partitions move to the survivor.
      const during = (await a.transactions())!;
      await b.kill('SIGKILL');
      await sleep(2000);
      assert.ok((await a.transactions())! > during, 'the survivor keeps committing while the other is dead');
      await waitFor('the survivor to own every partition', () => partitionsOf(a.logged('partitions assigned').at(-1)) === JSON.stringify([...Array(PARTITIONS).keys()]), SESSION_TIMEOUT_MS + 60_000, 200);
      const took = (await a.transactions())!;
      await waitFor('the survivor to commit on them', () => committing(a, took), 30_000, 100);
      await b.start();

      await load.stop();
      await waitFor('the group to commit every input record', async () => (await groupLag(brokers, groupId, input)) === 0n, 120_000, 500);
    } catch (error) {
      await load.stop();
      console.log([...a.tail, ...b.tail].join('\n'));
      throw error;
    }
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);

    const seen = new Map<string, number>();
    for (const record of await readCommitted(brokers, output)) seen.set(messageIdOf(record), (seen.get(messageIdOf(record)) ?? 0) + 1);
    const missing = [...load.unique].filter((id) => !seen.has(id));
    const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${load.unique.size} events missing`);
    assert.deepEqual(twice.slice(0, 10), [], `${twice.length} events written more than once`);
    assert.equal(seen.size, load.unique.size);
  });
});
