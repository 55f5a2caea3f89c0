// @inlet/processor: events per second through ONE processor instance with transactions on, and
// the memory each key costs in the dedup window.
//
// Throughput: a backlog of N raw events (10% repeats) is produced first; then one Processor
// starts and the clock runs from start() until every input record is committed. The output is
// read back and must hold exactly the unique events.
// Memory: a DedupStore is filled with K realistic keys (src_… source id + UUID messageId) and the
// heap growth is measured after a forced GC, next to the store's own estimate.
//
//   node --import tsx bench/processor.ts [--events 300000] [--keys 1000000] [--partitions 6] [--max-batch 20000]
// Kafka: KAFKA_BROKERS, or a private broker on port 29050 (scripts/kafka) started and stopped here.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import v8 from 'node:v8';
import { changelogTopic } from '@inlet/kafka';
import vm from 'node:vm';
import { DedupStore, dedupIdentity, Processor } from '@inlet/processor';
import { createTopics, deleteTopics, messageIdOf, produceRaw, rawRecord, readCommitted, uniqueName, waitFor } from '../packages/processor/test/kafka-helpers.ts';

const run$ = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../scripts/kafka');
const OWN_BROKER_PORT = 29050;

interface BenchOptions {
  events: number;
  keys: number;
  partitions: number;
  maxBatch: number;
}

interface SuiteOptions {
  quick?: boolean;
  kafkaBootstrap?: () => Promise<string>;
  log?: (line: string) => void;
}

export interface ProcessorBenchResult {
  events: number;
  unique: number;
  output: number;
  seconds: number;
  eventsPerSecond: number;
  transactions: number;
  cpuSeconds: number;
  keys: number;
  measuredBytesPerKey: number;
  estimatedBytesPerKey: number;
  markdown: string;
}

async function ownBroker(): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-processor-bench-kafka-'));
  const stop = async () => {
    await run$(SCRIPT, ['stop', '--dir', dir]).catch(() => run$(SCRIPT, ['stop', '--dir', dir, '--kill']).catch(() => undefined));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { stdout } = await run$(SCRIPT, ['start', '--port', String(OWN_BROKER_PORT), '--dir', dir], { maxBuffer: 1 << 20 });
    return { bootstrap: stdout.trim().split('\n').pop()!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function throughput(brokers: string[], o: BenchOptions, log: (line: string) => void) {
  const input = uniqueName('bench-raw');
  const output = uniqueName('bench-events');
  const groupId = uniqueName('bench-processor');
  const topics = [input, output, changelogTopic(groupId)];
  await createTopics(brokers, [input, output], o.partitions);
  try {
    const base = Date.now() - 3_600_000;
    const sources = Array.from({ length: 4 }, () => `src_${randomBytes(9).toString('base64url')}`);
    const messages = [];
    const ids: { sourceId: string; messageId: string; userId: string }[] = [];
    for (let i = 0; i < o.events; i++) {
      const repeat = i > 1000 && i % 10 === 0;
      const id = repeat ? ids[i - 1 - ((i * 7919) % 1000)] : { sourceId: sources[i % 4], messageId: randomUUID(), userId: `user-${(i * 31) % 5000}` };
      ids.push(id);
      messages.push(rawRecord(input, { ...id, receivedAt: base + Math.floor(i / 100) }));
    }
    const unique = new Set(ids.map((id) => `${id.sourceId}/${id.messageId}`)).size;
    log(`processor bench: producing ${o.events} raw events (${unique} unique) to ${o.partitions} partitions`);
    await produceRaw(brokers, messages, 5000);

    const quiet = { info() {}, warn: (m: string, f?: object) => log(`warn ${m} ${JSON.stringify(f)}`), error: (m: string, f?: object) => log(`error ${m} ${JSON.stringify(f)}`) };
    const processor = new Processor({ brokers, groupId, inputTopic: input, outputTopic: output, logger: quiet, logIntervalMs: 0, maxBatchRecords: o.maxBatch });
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await processor.start();
    await waitFor('the backlog to be processed', () => processor.snapshot().consumed >= o.events, 600_000, 20);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const snapshot = processor.snapshot();
    await processor.stop();
    const out = await readCommitted(brokers, output);
    const outIds = new Set(out.map((r) => `${JSON.parse(r.value!.toString()).sourceId}/${messageIdOf(r)}`));
    if (out.length !== unique || outIds.size !== unique) throw new Error(`output holds ${out.length} records (${outIds.size} distinct), expected ${unique}`);
    return { unique, output: out.length, seconds, transactions: snapshot.transactions, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await deleteTopics(brokers, topics).catch(() => undefined);
  }
}

function forceGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function memoryPerKey(keys: number) {
  const gc = forceGc();
  const sourceIds = Array.from({ length: 8 }, () => `src_${randomBytes(9).toString('base64url')}`);
  const noHeaders = () => undefined;
  gc();
  const before = process.memoryUsage().heapUsed;
  const store = new DedupStore(3_600_000);
  const t0 = Date.now();
  for (let i = 0; i < keys; i++) {
    // The processor's own path: a raw value parsed, its identity digested, decided.
    const receivedAt = new Date(t0 + Math.floor(i / 1000)).toISOString();
    const value = Buffer.from(JSON.stringify({ type: 'track', event: 'e', userId: `u${i % 5000}`, messageId: randomUUID(), sourceId: sourceIds[i % 8], receivedAt }));
    const identity = dedupIdentity(value, noHeaders, 0)!;
    store.decide(identity.key, identity.receivedAt);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  return { keys: store.size, measured: (after - before) / store.size, estimated: store.estimatedBytes / store.size };
}

export async function run(suite: SuiteOptions = {}, overrides: Partial<BenchOptions> = {}): Promise<ProcessorBenchResult> {
  const log = suite.log ?? ((line: string) => console.error(line));
  const o: BenchOptions = { events: suite.quick ? 100_000 : 300_000, keys: suite.quick ? 300_000 : 1_000_000, partitions: 6, maxBatch: 20_000, ...overrides };
  let stopBroker: (() => Promise<void>) | undefined;
  let bootstrap = process.env.KAFKA_BROKERS;
  if (suite.kafkaBootstrap) bootstrap = await suite.kafkaBootstrap();
  if (!bootstrap) {
    const broker = await ownBroker();
    bootstrap = broker.bootstrap;
    stopBroker = broker.stop;
  }
  try {
    const t = await throughput(bootstrap.split(','), o, log);
    const m = memoryPerKey(o.keys);
    const eventsPerSecond = Math.round(o.events / t.seconds);
    const markdown = [
      '| measure | value |',
      '|---|---|',
      `| input events (10% repeats) | ${o.events.toLocaleString('en-US')} |`,
      `| output events (= unique) | ${t.output.toLocaleString('en-US')} |`,
      `| **events/s through one instance, transactions on** | **${eventsPerSecond.toLocaleString('en-US')}** |`,
      `| wall time | ${t.seconds.toFixed(2)} s |`,
      `| transactions committed | ${t.transactions} (≤ ${o.maxBatch} input records each) |`,
      `| processor CPU (user+system, all threads) | ${t.cpuSeconds.toFixed(2)} s (${((t.cpuSeconds / t.seconds) * 100).toFixed(0)}% of one core) |`,
      `| dedup memory per key, measured (${m.keys.toLocaleString('en-US')} keys, heap after GC) | ${m.measured.toFixed(0)} bytes |`,
      `| dedup memory per key, processor's estimate (inlet_processor_dedup_bytes_per_key) | ${m.estimated.toFixed(0)} bytes |`,
      `| keys in a 1 h window at 50,000 unique events/s → heap | ${(180_000_000).toLocaleString('en-US')} keys → ${((180_000_000 * m.measured) / 2 ** 30).toFixed(1)} GiB |`,
      '',
      `Partitions: ${o.partitions}; broker: ${stopBroker ? `private scripts/kafka broker on ${bootstrap}` : bootstrap}.`,
      '',
    ].join('\n');
    return { events: o.events, unique: t.unique, output: t.output, seconds: t.seconds, eventsPerSecond, transactions: t.transactions, cpuSeconds: t.cpuSeconds, keys: m.keys, measuredBytesPerKey: m.measured, estimatedBytesPerKey: m.estimated, markdown };
  } finally {
    await stopBroker?.();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { events: { type: 'string' }, keys: { type: 'string' }, partitions: { type: 'string' }, 'max-batch': { type: 'string' } } });
  const overrides: Partial<BenchOptions> = {};
  if (values.events) overrides.events = Number(values.events);
  if (values.keys) overrides.keys = Number(values.keys);
  if (values.partitions) overrides.partitions = Number(values.partitions);
  if (values['max-batch']) overrides.maxBatch = Number(values['max-batch']);
  run({}, overrides).then((result) => console.log(result.markdown), (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exitCode = 1;
  });
}
