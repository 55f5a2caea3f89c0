// How long a crash of one processor instance holds the group up. Two processor processes share a
// group on a steady input (every partition gets events all the time). Each round SIGKILLs one of
// them (alternating) and restarts it at once, as a supervisor would, and measures from the kill:
//   - the survivor's next commit, and its longest pause between commits in the next 20 s;
//   - the restarted instance's first commit.
// Commits are seen by polling each process's /metrics (inlet_processor_transactions_total) every
// 20 ms. At the end the output is read back and must hold every event exactly once.
//
//   node --import tsx bench/processor-failover.ts [--rounds 3] [--restart-after 0] [--session-timeout 10000]
//        [--bin packages/processor/bin/inlet-process.js]   # another checkout's bin to compare
//   npm run bench -- --suite failover
// Kafka: KAFKA_BROKERS, or a private broker on port 29070 (scripts/kafka) started and stopped here.
// A latency measurement: fine on a busy machine, though a stalled machine stretches every number.
// The processes run @inlet/processor's built dist/ (npm install builds it; `node scripts/build.js`
// after editing), or its sources when NODE_OPTIONS carries --conditions=inlet-source.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { changelogTopic } from '@inlet/kafka';
import { createTopics, deleteTopics, groupLag, messageIdOf, rawProducer, rawRecord, readCommitted, uniqueName, waitFor } from '../packages/processor/test/kafka-helpers.ts';
import { PROCESSOR_BIN, ProcessorChild } from '../packages/processor/test/processor-child.ts';
import { startBroker } from './lib/kafka-broker.ts';

const OWN_BROKER_PORT = 29070;
const PARTITIONS = 6;
const POLL_MS = 20;
const OBSERVE_MS = 20_000;

interface FailoverOptions {
  rounds: number;
  restartAfterMs: number;
  sessionTimeoutMs: number;
  bin: string;
}

interface SuiteOptions {
  quick?: boolean;
  kafkaBootstrap?: () => Promise<string>;
  log?: (line: string) => void;
}

interface Round {
  victim: string;
  survivorNextMs: number | undefined;
  survivorLongestPauseMs: number;
  restartedFirstMs: number | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records when each child's transaction counter moves. */
class CommitWatch {
  readonly commits = new Map<ProcessorChild, number[]>();
  #last = new Map<ProcessorChild, number | undefined>();
  #running = true;
  #loop: Promise<void>;

  constructor(children: ProcessorChild[]) {
    for (const c of children) this.commits.set(c, []);
    this.#loop = (async () => {
      while (this.#running) {
        await Promise.all(children.map(async (c) => {
          const count = await c.transactions();
          if (count === undefined) return; // not up (yet, or any more)
          // A change means a commit since the last poll; a restarted process counts from 0 again.
          if (count > 0 && count !== this.#last.get(c)) this.commits.get(c)!.push(Date.now());
          this.#last.set(c, count);
        }));
        await sleep(POLL_MS);
      }
    })();
  }

  /** The child runs a new process, whose count starts again from 0. */
  restarted(child: ProcessorChild): void {
    this.#last.delete(child);
  }

  firstAfter(child: ProcessorChild, t: number): number | undefined {
    return this.commits.get(child)!.find((at) => at > t);
  }

  /** The longest time without a commit in [from, to], counting from the last commit before `from`. */
  longestPause(child: ProcessorChild, from: number, to: number): number {
    const times = this.commits.get(child)!;
    const before = times.filter((at) => at <= from).at(-1) ?? from;
    const within = times.filter((at) => at > from && at <= to);
    let longest = 0;
    let previous = before;
    for (const at of [...within, to]) {
      longest = Math.max(longest, at - previous);
      previous = at;
    }
    return longest;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

function steadyInput(brokers: string[], topic: string) {
  const unique = new Set<string>();
  let n = 0;
  let running = true;
  const producer = rawProducer(brokers);
  const loop = (async () => {
    while (running) {
      const batch = Array.from({ length: 60 }, () => {
        const event = { messageId: `e${n++}`, userId: `u${n % 101}`, receivedAt: Date.now(), sourceId: 'src-failover' };
        unique.add(event.messageId);
        return rawRecord(topic, event);
      });
      await producer.send({ messages: batch });
      await sleep(50);
    }
    await producer.close();
  })();
  return { unique, stop: async () => { running = false; await loop; } };
}

async function measure(brokers: string[], o: FailoverOptions, log: (line: string) => void): Promise<{ rounds: Round[]; exact: string }> {
  const input = uniqueName('failover-raw');
  const output = uniqueName('failover-events');
  const groupId = uniqueName('failover-group');
  await createTopics(brokers, [input, output], PARTITIONS);
  const args = ['--brokers', brokers.join(','), '--group', groupId, '--input', input, '--output', output, '--log-interval', '0', '--session-timeout', String(o.sessionTimeoutMs), '--max-batch', '500'];
  const children = [new ProcessorChild('a', args, o.bin), new ProcessorChild('b', args, o.bin)];
  const load = steadyInput(brokers, input);
  const watch = new CommitWatch(children);
  const rounds: Round[] = [];
  try {
    for (const child of children) await child.start();
    const steady = () => children.every((c) => (watch.commits.get(c)!.at(-1) ?? 0) > Date.now() - 1000);
    for (let round = 0; round < o.rounds; round++) {
      await waitFor('both instances to commit steadily', steady, 120_000, 100);
      await sleep(2000);
      const victim = children[round % 2];
      const survivor = children[(round + 1) % 2];
      const t0 = Date.now();
      await victim.kill('SIGKILL');
      if (o.restartAfterMs > 0) await sleep(o.restartAfterMs);
      watch.restarted(victim);
      await victim.start();
      await waitFor('the restarted instance to commit', () => watch.firstAfter(victim, t0) !== undefined, 120_000, 50).catch(() => undefined);
      await sleep(Math.max(0, t0 + OBSERVE_MS - Date.now()));
      const survivorNext = watch.firstAfter(survivor, t0);
      const restartedFirst = watch.firstAfter(victim, t0);
      const r: Round = {
        victim: victim.instanceId,
        survivorNextMs: survivorNext === undefined ? undefined : survivorNext - t0,
        survivorLongestPauseMs: watch.longestPause(survivor, t0, t0 + OBSERVE_MS),
        restartedFirstMs: restartedFirst === undefined ? undefined : restartedFirst - t0,
      };
      rounds.push(r);
      log(`  round ${round + 1}: SIGKILL ${r.victim}; survivor's next commit ${fmt(r.survivorNextMs)}, longest pause ${fmt(r.survivorLongestPauseMs)}; restarted instance's first commit ${fmt(r.restartedFirstMs)}`);
    }
    await load.stop();
    await waitFor('the group to commit every input record', async () => (await groupLag(brokers, groupId, input)) === 0n, 120_000, 500);
  } finally {
    await load.stop();
    await watch.stop();
    await Promise.all(children.map((c) => c.kill('SIGTERM')));
  }
  const seen = new Map<string, number>();
  for (const record of await readCommitted(brokers, output)) seen.set(messageIdOf(record), (seen.get(messageIdOf(record)) ?? 0) + 1);
  const missing = [...load.unique].filter((id) => !seen.has(id)).length;
  const twice = [...seen.values()].filter((n) => n > 1).length;
  await deleteTopics(brokers, [input, output, changelogTopic(groupId)]).catch(() => undefined);
  const exact = missing === 0 && twice === 0 ? `every one of ${load.unique.size} events exactly once` : `FAILED: ${missing} missing, ${twice} more than once (of ${load.unique.size})`;
  return { rounds, exact };
}

const fmt = (ms: number | undefined) => (ms === undefined ? 'none' : `${(ms / 1000).toFixed(2)} s`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run(suite: SuiteOptions = {}, overrides: Partial<FailoverOptions> = {}): Promise<{ rounds: Round[]; markdown: string }> {
  const log = suite.log ?? ((line: string) => console.error(line));
  const o: FailoverOptions = { rounds: suite.quick ? 2 : 4, restartAfterMs: 0, sessionTimeoutMs: 10_000, bin: PROCESSOR_BIN, ...overrides };
  const broker = suite.kafkaBootstrap ? { bootstrap: await suite.kafkaBootstrap(), owned: false, stop: async () => {} } : await startBroker(OWN_BROKER_PORT);
  try {
    log(`processor failover: ${o.rounds} rounds, session timeout ${o.sessionTimeoutMs} ms, restart ${o.restartAfterMs} ms after the kill, ${o.bin}`);
    const { rounds, exact } = await measure(broker.bootstrap.split(','), o, log);
    const known = (f: (r: Round) => number | undefined) => rounds.map(f).filter((v): v is number => v !== undefined);
    const markdown = [
      '| round | SIGKILLed | survivor: next commit | survivor: longest pause in 20 s | restarted: first commit |',
      '|---|---|---|---|---|',
      ...rounds.map((r, i) => `| ${i + 1} | ${r.victim} | ${fmt(r.survivorNextMs)} | ${fmt(r.survivorLongestPauseMs)} | ${fmt(r.restartedFirstMs)} |`),
      `| median | | ${fmt(median(known((r) => r.survivorNextMs)))} | ${fmt(median(known((r) => r.survivorLongestPauseMs)))} | ${fmt(median(known((r) => r.restartedFirstMs)))} |`,
      '',
      `Times from the SIGKILL; the killed instance is restarted ${o.restartAfterMs} ms after it. ${PARTITIONS} partitions, session timeout ${o.sessionTimeoutMs} ms, ~1,200 events/s in. Output: ${exact}.`,
      '',
    ].join('\n');
    return { rounds, markdown };
  } finally {
    await broker.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'restart-after': { type: 'string' }, 'session-timeout': { type: 'string' }, bin: { type: 'string' } } });
  const overrides: Partial<FailoverOptions> = {};
  if (values.rounds) overrides.rounds = Number(values.rounds);
  if (values['restart-after']) overrides.restartAfterMs = Number(values['restart-after']);
  if (values['session-timeout']) overrides.sessionTimeoutMs = Number(values['session-timeout']);
  if (values.bin) overrides.bin = resolve(values.bin);
  run({}, overrides).then((result) => console.log(result.markdown), (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exitCode = 1;
  });
}
