// What one console viewer costs ingestion (issue 15: W1 peak with a viewer watching every event
// within 5% of none), measured so that a 5% effect can be seen on a noisy 2-core machine: one server
// process per sink, and windows with and without a viewer alternated on it in ABBA order (none,
// viewer, viewer, none, ...), so the machine's drift and the table's growth fall on both sides
// alike; each pair gives a ratio. Fresh servers per cell (the HTTP matrix) add a process-to-process
// spread of ±10% that no affordable number of rounds averages away.
//   npm run bench -- --suite viewer [--duration 10 --warmup 2]
//   node --import tsx bench/viewer-cost.ts [--pairs 8] [--seconds 10] [--sinks embedded,kafka]
import { parseArgs } from 'node:util';
import { cpuMicrosPerEvent, withCellServer } from './http/harness.ts';
import { median } from './http/report.ts';
import { runLoad } from './http/run-load.ts';
import { SERVERS } from './http/servers.ts';
import { openViewer } from './http/viewer.ts';
import { WORKLOADS } from './http/workloads.ts';
import { startBroker, type Broker } from './lib/kafka-broker.ts';
import { PORT_RANGE } from './lib/ports.ts';
import { threadCpuSeconds } from './lib/proc-stats.ts';

interface SuiteOptions {
  quick?: boolean;
  durationSeconds?: number;
  warmupSeconds?: number;
  kafkaBootstrap?(): Promise<string>;
  log?(line: string): void;
}

interface Window {
  viewer: boolean;
  eventsPerSecond: number;
  cpuMicrosPerEvent: number;
  /** bytes per second the viewer read (0 without one) */
  viewerBytesPerSecond: number;
  /** the server's CPU by thread kind over the window and its warm-up, µs per event */
  threads: Record<ThreadKind, number>;
}

type ThreadKind = 'main' | 'gc' | 'other';
const THREAD_KINDS: ThreadKind[] = ['main', 'gc', 'other'];

/** CPU seconds of the process's threads by kind: the main thread, V8's GC helpers, the rest (workers, libuv). */
function threadCpu(pid: number): Record<ThreadKind, number> {
  const out: Record<ThreadKind, number> = { main: 0, gc: 0, other: 0 };
  for (const t of threadCpuSeconds(pid)) out[t.tid === pid ? 'main' : t.name.startsWith('V8Worker') ? 'gc' : 'other'] += t.seconds;
  return out;
}

const SINKS = { embedded: SERVERS['inlet-embedded'], kafka: SERVERS['inlet-kafka'] } as const;
type Sink = keyof typeof SINKS;

/** Student's t at 97.5% for n-1 degrees of freedom (n ≤ 31), for a 95% interval of the mean. */
const T975 = [NaN, 12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13, 2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04];

/** Geometric mean of the ratios with its 95% interval (a t interval on their logarithms). */
export function ratioInterval(ratios: number[]): { mean: number; low: number; high: number } {
  const logs = ratios.map(Math.log);
  const n = logs.length;
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean: Math.exp(mean), low: NaN, high: NaN };
  const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (T975[n - 1] ?? 2) * sd / Math.sqrt(n);
  return { mean: Math.exp(mean), low: Math.exp(mean - half), high: Math.exp(mean + half) };
}

async function measureSink(sink: Sink, pairs: number, seconds: number, warmup: number, kafkaBootstrap: () => Promise<string>, log: (line: string) => void): Promise<Window[]> {
  return withCellServer({ partitions: 12, kafkaBootstrap }, SINKS[sink], `viewer-${sink}-${Date.now().toString(36)}`, undefined, async ({ server }) => {
    const job = { url: server.url, workload: 'W1' as const, writeKey: server.writeKey, connections: 50, messageIds: 'v7' as const };
    // The first seconds of a process run colder code than the rest; not measured.
    await runLoad({ ...job, warmupSeconds: 0, durationSeconds: Math.max(warmup, 3) }, server.pid);
    const windows: Window[] = [];
    for (let i = 0; i < pairs * 2; i++) {
      const viewer = i % 4 === 1 || i % 4 === 2; // none, viewer, viewer, none
      const open = viewer ? await openViewer(server.banner) : undefined;
      const before = open?.bytes() ?? 0;
      const cpuBefore = threadCpu(server.pid);
      const m = await runLoad({ ...job, warmupSeconds: warmup, durationSeconds: seconds }, server.pid);
      const cpuAfter = threadCpu(server.pid);
      const bytes = (open?.bytes() ?? 0) - before;
      open?.close();
      const events = m.load.ok * WORKLOADS.W1.eventsPerRequest;
      const elapsed = m.load.durationSeconds || seconds;
      const w: Window = {
        viewer,
        eventsPerSecond: events / elapsed,
        cpuMicrosPerEvent: cpuMicrosPerEvent(m.server.cpuSeconds, events),
        viewerBytesPerSecond: bytes / (elapsed + warmup),
        // Over warm-up and window, against the events of both (the warm-up's share estimated at the window's rate).
        threads: Object.fromEntries(THREAD_KINDS.map((k) => [k, ((cpuAfter[k] - cpuBefore[k]) * 1e6) / (events * (elapsed + warmup) / elapsed)])) as Record<ThreadKind, number>,
      };
      if (m.load.non2xx > 0 || m.load.errors > 0) log(`    window ${i + 1}: ${m.load.non2xx} non-2xx, ${m.load.errors} errors`);
      if (viewer && bytes === 0) throw new Error(`${sink}: the viewer read nothing in window ${i + 1}`);
      log(`  ${sink} window ${i + 1} (${viewer ? 'viewer' : 'none'}): ${Math.round(w.eventsPerSecond)} events/s, ${w.cpuMicrosPerEvent.toFixed(2)} µs CPU/event (main ${w.threads.main.toFixed(2)}, GC ${w.threads.gc.toFixed(2)}, other ${w.threads.other.toFixed(2)})${viewer ? `, viewer ${(w.viewerBytesPerSecond / 1024).toFixed(0)} KiB/s` : ''}`);
      windows.push(w);
    }
    return windows;
  });
}

function formatSink(sink: Sink, windows: Window[]): string {
  const rows: string[] = [];
  const throughput: number[] = [];
  const cpu: number[] = [];
  for (let p = 0; p * 2 < windows.length; p++) {
    const pair = windows.slice(p * 2, p * 2 + 2);
    const none = pair.find((w) => !w.viewer)!;
    const viewer = pair.find((w) => w.viewer)!;
    throughput.push(viewer.eventsPerSecond / none.eventsPerSecond);
    cpu.push(viewer.cpuMicrosPerEvent / none.cpuMicrosPerEvent);
    rows.push(`| ${p + 1} | ${Math.round(none.eventsPerSecond).toLocaleString('en')} | ${Math.round(viewer.eventsPerSecond).toLocaleString('en')} | ${throughput.at(-1)!.toFixed(3)} | ${none.cpuMicrosPerEvent.toFixed(2)} | ${viewer.cpuMicrosPerEvent.toFixed(2)} | ${cpu.at(-1)!.toFixed(3)} | ${(viewer.viewerBytesPerSecond / 1024).toFixed(0)} |`);
  }
  const t = ratioInterval(throughput);
  const c = ratioInterval(cpu);
  const byThread = THREAD_KINDS.map((k) => {
    const r = ratioInterval(Array.from({ length: throughput.length }, (_, p) => {
      const pair = windows.slice(p * 2, p * 2 + 2);
      return pair.find((w) => w.viewer)!.threads[k] / pair.find((w) => !w.viewer)!.threads[k];
    }));
    return Number.isFinite(r.mean) ? `${k} ${r.mean.toFixed(3)} (${r.low.toFixed(3)}–${r.high.toFixed(3)})` : undefined;
  }).filter(Boolean).join(', ');
  const verdict = throughput.length < 2 ? 'one pair gives no interval; run more'
    : t.low >= 0.95 ? 'met: the whole interval is within 5%'
    : t.mean >= 0.95 ? 'met on the mean; the interval reaches below 0.95'
      : 'not met';
  return [
    `#### ${sink}: W1 c50, one server, windows alternated none / viewer (ABBA)`,
    '',
    '| pair | events/s, none | events/s, viewer | ratio | CPU µs/event, none | viewer | ratio | viewer KiB/s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Throughput with a viewer / without: median **${median(throughput).toFixed(3)}**, geometric mean ${t.mean.toFixed(3)} (95% interval ${t.low.toFixed(3)}–${t.high.toFixed(3)}), range ${Math.min(...throughput).toFixed(3)}–${Math.max(...throughput).toFixed(3)}; target ≥ 0.95: ${verdict}.`,
    `Server CPU per event with a viewer / without: median ${median(cpu).toFixed(3)}, geometric mean ${c.mean.toFixed(3)} (95% interval ${c.low.toFixed(3)}–${c.high.toFixed(3)}); by thread, geometric means: ${byThread}.`,
    '',
  ].join('\n');
}

export async function run(options: SuiteOptions = {}, args: { pairs?: number; sinks?: Sink[] } = {}): Promise<string> {
  const log = options.log ?? console.error;
  const pairs = args.pairs ?? (options.quick ? 2 : 8);
  const seconds = options.durationSeconds ?? (options.quick ? 5 : 10);
  const warmup = options.warmupSeconds ?? (options.quick ? 1 : 2);
  let broker: Broker | undefined;
  const kafkaBootstrap = options.kafkaBootstrap ?? (async () => (broker ??= await startBroker(PORT_RANGE.kafka)).bootstrap);
  const sections = ['### One console viewer at W1 peak, paired windows on one server (issue 15)', ''];
  try {
    for (const sink of args.sinks ?? (['embedded', 'kafka'] as Sink[])) {
      log(`viewer suite: ${sink}, ${pairs} pairs of ${warmup} + ${seconds} s windows`);
      sections.push(formatSink(sink, await measureSink(sink, pairs, seconds, warmup, kafkaBootstrap, log)));
    }
  } finally {
    await broker?.stop();
  }
  return sections.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { pairs: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' }, sinks: { type: 'string' }, quick: { type: 'boolean' } } });
  const markdown = await run(
    { quick: values.quick, durationSeconds: values.seconds ? Number(values.seconds) : undefined, warmupSeconds: values.warmup ? Number(values.warmup) : undefined },
    { pairs: values.pairs ? Number(values.pairs) : undefined, sinks: values.sinks?.split(',') as Sink[] | undefined },
  );
  console.log(markdown);
}
