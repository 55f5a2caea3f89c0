// The Kafka sink on its own, without HTTP: how its two ways of keeping produce requests in flight
// compare ('pipelined', the default: one idempotent producer with two sends in flight; 'lanes':
// three producers with one each — see packages/kafka/src/writer.ts), and what zstd costs and
// saves against lz4. Runs the real KafkaSink in this process, like concurrent HTTP requests would:
// N writers in a closed loop, each writing its next batch when the last one is acknowledged.
//
// Per cell: events/s, write latency, CPU per event (this process: the sink, the client,
// compression — the events are built before the clock starts) and bytes per event on the broker
// (the topic's log size, which is what crossed the wire: record batches are stored as sent).
//
//   node --import tsx bench/kafka-sink.ts [--seconds 15] [--modes pipelined,lanes] [--compressions lz4,zstd] [--writers 50]
//   npm run bench -- --suite kafka-sink
// Kafka: KAFKA_BROKERS, or a private broker on port 29080 (scripts/kafka) started and stopped here.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createAdmin, forceClose, type Compression, type SendMode } from '@inlet/kafka';
import { newMessageId, type NormalizedRecord } from '@inlet/schema';
import { KafkaSink } from '../packages/server/src/sinks/kafka-sink.ts';
import type { StoredEvent } from '../packages/server/src/sinks/sink.ts';
import { createTopic, deleteTopic, startBroker } from './lib/kafka-broker.ts';

const OWN_BROKER_PORT = 29080;
const PARTITIONS = 12;
/** writes prepared up front and reused in turn (Kafka does not deduplicate, so repeats cost the same) */
const POOL = 400;
const quiet = { info() {}, warn() {}, error() {} };

interface SinkBenchOptions {
  seconds: number;
  warmupSeconds: number;
  writers: number;
  modes: SendMode[];
  compressions: Compression[];
  /** events per write: 100 like W1's batches, 1 like W2's single events */
  shapes: number[];
}

interface SuiteOptions {
  quick?: boolean;
  kafkaBootstrap?: () => Promise<string>;
  log?: (line: string) => void;
}

interface Cell {
  mode: SendMode;
  compression: Compression;
  eventsPerWrite: number;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  cpuMicrosPerEvent: number;
  bytesPerEvent: number;
  failures: number;
}

/** A normalized record as the server would store it, ~600 bytes of JSON. */
function storedEvent(i: number): StoredEvent {
  const now = new Date().toISOString();
  const record = {
    type: 'track',
    event: i % 3 === 0 ? 'Product Viewed' : i % 3 === 1 ? 'Added To Cart' : 'Checkout Started',
    userId: `user-${(i * 7919) % 5000}`,
    anonymousId: `anon-${randomUUID()}`,
    messageId: newMessageId(),
    sourceId: 'src_bench_kafka_sink',
    receivedAt: now,
    timestamp: now,
    originalTimestamp: now,
    properties: { product_id: `sku-${1000 + (i % 500)}`, name: 'Trail running shoe', price: 129.99, currency: 'EUR', quantity: 1 },
    context: {
      ip: '203.0.113.0',
      library: { name: 'inlet-browser', version: '0.1.0' },
      page: { path: '/products/trail-runner', url: 'https://shop.example.com/products/trail-runner' },
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36',
      locale: 'en-GB',
    },
  } as unknown as NormalizedRecord;
  return { record, json: JSON.stringify(record) };
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function topicBytes(bootstrap: string, topic: string): Promise<number> {
  const admin = createAdmin({ brokers: bootstrap, clientId: 'inlet-bench-log-dirs' });
  try {
    const brokers = await admin.describeLogDirs({ topics: [{ name: topic, partitions: [...Array(PARTITIONS).keys()] }] });
    let bytes = 0;
    for (const broker of brokers) for (const dir of broker.results) for (const t of dir.topics) if (t.name === topic) for (const p of t.partitions) bytes += Number(p.partitionSize);
    return bytes;
  } finally {
    await forceClose(admin);
  }
}

async function cell(bootstrap: string, o: SinkBenchOptions, mode: SendMode, compression: Compression, eventsPerWrite: number, log: (line: string) => void): Promise<Cell> {
  const topic = `inlet-bench-sink-${mode}-${compression}-${eventsPerWrite}-${Date.now()}`;
  await createTopic(bootstrap, topic, PARTITIONS);
  const sink = new KafkaSink({ brokers: bootstrap.split(','), topic, writeTimeoutMs: 30_000, compression, sendMode: mode, logger: quiet });
  const pool = Array.from({ length: POOL }, (_, w) => Array.from({ length: eventsPerWrite }, (_, i) => storedEvent(w * eventsPerWrite + i)));
  let next = 0;
  let failures = 0;
  let written = 0;
  try {
    const loop = async (until: number, latencies?: number[]) => {
      await Promise.all(Array.from({ length: o.writers }, async () => {
        while (performance.now() < until) {
          const write = pool[next++ % POOL];
          const started = performance.now();
          try {
            await sink.write(write);
            written += write.length;
            latencies?.push(performance.now() - started);
          } catch {
            failures++;
          }
        }
      }));
    };
    await loop(performance.now() + o.warmupSeconds * 1000);
    const writtenBefore = written;
    const latencies: number[] = [];
    const cpu = process.cpuUsage();
    const started = performance.now();
    await loop(started + o.seconds * 1000, latencies);
    const elapsed = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const measured = written - writtenBefore;
    const sorted = latencies.sort((a, b) => a - b);
    const result: Cell = {
      mode, compression, eventsPerWrite,
      eventsPerSecond: measured / elapsed,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      cpuMicrosPerEvent: (used.user + used.system) / measured,
      bytesPerEvent: (await topicBytes(bootstrap, topic)) / written,
      failures,
    };
    log(`  ${mode} ${compression} ${eventsPerWrite}/write: ${Math.round(result.eventsPerSecond)} events/s, p99 ${result.p99.toFixed(1)} ms, ${result.cpuMicrosPerEvent.toFixed(1)} µs CPU/event, ${result.bytesPerEvent.toFixed(0)} bytes/event on the broker${failures ? `, ${failures} writes failed` : ''}`);
    return result;
  } finally {
    await sink.close();
    await deleteTopic(bootstrap, topic);
  }
}

export async function run(suite: SuiteOptions = {}, overrides: Partial<SinkBenchOptions> = {}): Promise<{ cells: Cell[]; markdown: string }> {
  const log = suite.log ?? ((line: string) => console.error(line));
  const o: SinkBenchOptions = {
    seconds: suite.quick ? 5 : 15, warmupSeconds: suite.quick ? 1 : 3, writers: 50,
    modes: ['pipelined', 'lanes'], compressions: ['lz4', 'zstd'], shapes: [100, 1], ...overrides,
  };
  const broker = suite.kafkaBootstrap ? { bootstrap: await suite.kafkaBootstrap(), owned: false, stop: async () => {} } : await startBroker(OWN_BROKER_PORT);
  const cells: Cell[] = [];
  try {
    log(`kafka sink: ${o.writers} writers, ${o.seconds} s per cell after ${o.warmupSeconds} s warm-up, ${PARTITIONS} partitions`);
    // Modes innermost, so the pairs a comparison reads are run back to back.
    for (const eventsPerWrite of o.shapes) for (const compression of o.compressions) for (const mode of o.modes) cells.push(await cell(broker.bootstrap, o, mode, compression, eventsPerWrite, log));
  } finally {
    await broker.stop();
  }
  const markdown = [
    '| events/write | compression | send mode | events/s | write p50 | write p99 | CPU µs/event | bytes/event on the broker | failed writes |',
    '|---|---|---|---|---|---|---|---|---|',
    ...cells.map((c) => `| ${c.eventsPerWrite} | ${c.compression} | ${c.mode} | ${Math.round(c.eventsPerSecond).toLocaleString('en-US')} | ${c.p50.toFixed(1)} ms | ${c.p99.toFixed(1)} ms | ${c.cpuMicrosPerEvent.toFixed(1)} | ${c.bytesPerEvent.toFixed(0)} | ${c.failures} |`),
    '',
    `In process, ${o.writers} concurrent writers in a closed loop, events of ~${Buffer.byteLength(storedEvent(0).json)} bytes of JSON, ${PARTITIONS} partitions, RF 1. CPU: this process (sink, client, compression), not the broker. Bytes: the topic's log size over the events written.`,
    '',
  ].join('\n');
  return { cells, markdown };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, warmup: { type: 'string' }, writers: { type: 'string' }, modes: { type: 'string' }, compressions: { type: 'string' }, shapes: { type: 'string' } } });
  const overrides: Partial<SinkBenchOptions> = {};
  if (values.seconds) overrides.seconds = Number(values.seconds);
  if (values.warmup) overrides.warmupSeconds = Number(values.warmup);
  if (values.writers) overrides.writers = Number(values.writers);
  if (values.modes) overrides.modes = values.modes.split(',') as SendMode[];
  if (values.compressions) overrides.compressions = values.compressions.split(',') as Compression[];
  if (values.shapes) overrides.shapes = values.shapes.split(',').map(Number);
  run({}, overrides).then((result) => console.log(result.markdown), (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exitCode = 1;
  });
}
