// @inlet/node against @segment/analytics-node: N track calls each, delivered to the same local
// Inlet server (embedded sink, its own child process). Each sender runs in its own child process
// and measures itself: wall time from the first track() to "all delivered", CPU time
// (process.cpuUsage: every thread, so gzip in libuv's pool counts) and peak RSS (maxRSS).
// Afterwards the server's store is read back: every sender must have delivered all N events.
//
//   node --import tsx bench/node-sdk.ts [--events 100000] [--rounds 1]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { bannerLines } from './http/server-process.ts';

const ROOT = resolve(import.meta.dirname, '..');
const THIS_FILE = fileURLToPath(import.meta.url);
/** Calls between yields to the event loop, as a busy back end interleaves tracking with I/O. */
const YIELD_EVERY = 1000;
const USERS = 1000;

type SenderName = 'inlet' | 'segment' | 'segment-flushAt500';
const SENDERS: { name: SenderName; label: string }[] = [
  { name: 'inlet', label: '@inlet/node (defaults, maxQueueSize=N)' },
  { name: 'segment', label: '@segment/analytics-node (defaults)' },
  { name: 'segment-flushAt500', label: '@segment/analytics-node (flushAt=500)' },
];

export interface SenderResult {
  sender: SenderName;
  label: string;
  events: number;
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
  baselineRssBytes: number;
  /** events the sender reported as failed or dropped */
  reportedFailures: number;
  /** events of this sender found in the server's store afterwards */
  stored: number;
}

// ---------------------------------------------------------------- sender (child process)

async function runSender(sender: SenderName, url: string, writeKey: string, events: number): Promise<void> {
  const eventName = `bench_${sender}`;
  const properties = (i: number) => ({ i, plan: 'pro', amount: 42.5, currency: 'EUR', sku: 'SKU-1234', coupon: null, tags: ['a', 'b'] });
  let failures = 0;
  let track: (i: number) => void;
  let finish: () => Promise<void>;
  if (sender === 'inlet') {
    const { ServerAnalytics } = await import('@inlet/node');
    // The loop below outruns any server, so the bound is raised to hold all N (Segment's queue is unbounded).
    const analytics = new ServerAnalytics({ writeKey, endpoint: url, maxQueueSize: events });
    analytics.on('drop', (d) => { failures += d.count; });
    track = (i) => analytics.track(`user-${i % USERS}`, eventName, properties(i));
    finish = () => analytics.shutdown({ timeoutMs: 600_000 });
  } else {
    const { Analytics } = await import('@segment/analytics-node');
    const analytics = new Analytics({ writeKey, host: url, maxRetries: 3, ...(sender === 'segment-flushAt500' ? { flushAt: 500 } : {}) });
    analytics.on('error', () => { failures++; });
    track = (i) => analytics.track({ userId: `user-${i % USERS}`, event: eventName, properties: properties(i) });
    finish = () => analytics.closeAndFlush({ timeout: 600_000 });
  }
  globalThis.gc?.();
  const baselineRssBytes = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < events; i++) {
    track(i);
    if ((i + 1) % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
  }
  await finish();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, peakRssBytes, baselineRssBytes, reportedFailures: failures })}\n`);
}

// ---------------------------------------------------------------- orchestrator

interface InletProcess {
  child: ChildProcess;
  url: string;
  writeKey: string;
  dataDir: string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

async function startInletProcess(): Promise<InletProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-node-sdk-'));
  const child = spawn(process.execPath, [join(ROOT, 'packages/server/bin/inlet.js'), 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      INLET_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      KAFKA_BROKERS: '',
      // Segment's default batches of 15 make thousands of requests; the default budget would 429 them.
      RATE_LIMIT_REQUESTS_PER_MINUTE: '10000000',
      RATE_LIMIT_EVENTS_PER_MINUTE: '100000000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => { stderr.push(l); if (stderr.length > 20) stderr.shift(); });
  const banner = await new Promise<{ url: string; writeKey: string }>((done, fail) => {
    let url: string | undefined;
    const timer = setTimeout(() => fail(new Error(`Inlet did not start:\n${stderr.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (printed) => {
      for (const line of bannerLines(printed)) {
        url ??= /listening on (\S+)/.exec(line)?.[1];
        const key = /Write key of the "default" source: (\S+)/.exec(line)?.[1];
        if (url && key) { clearTimeout(timer); done({ url, writeKey: key }); }
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`Inlet exited with ${code}:\n${stderr.join('\n')}`)); });
  });
  return {
    child,
    dataDir,
    ...banner,
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited(child);
      clearTimeout(killer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function runSenderProcess(sender: SenderName, inlet: InletProcess, events: number): Promise<Omit<SenderResult, 'sender' | 'label' | 'stored' | 'events'>> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', THIS_FILE, '--sender', sender, '--url', inlet.url, '--write-key', inlet.writeKey, '--events', String(events)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c) => { out += c; });
    child.stderr!.on('data', (c) => { err += c; });
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return fail(new Error(`sender ${sender} exited with ${code}: ${err.slice(-2000)}`));
      try { done(JSON.parse(last)); } catch { fail(new Error(`sender ${sender} printed no result: ${out.slice(-500)} ${err.slice(-2000)}`)); }
    });
  });
}

async function countStored(dataDir: string): Promise<Map<string, number>> {
  const { readStoredEvents } = await import('@inlet/server');
  const counts = new Map<string, number>();
  let after = 0;
  for (;;) {
    const rows = readStoredEvents(dataDir, after, 20_000);
    if (rows.length === 0) return counts;
    for (const row of rows) counts.set(String(row.record.event), (counts.get(String(row.record.event)) ?? 0) + 1);
    after = rows[rows.length - 1].seq;
  }
}

/** Runs every sender against one Inlet server; `rounds` repeats them (alternating order). */
export async function run(options: { events?: number; rounds?: number } = {}): Promise<SenderResult[]> {
  const events = options.events ?? 100_000;
  const rounds = options.rounds ?? 1;
  const results: SenderResult[] = [];
  for (let round = 0; round < rounds; round++) {
    const inlet = await startInletProcess();
    try {
      const order = round % 2 === 0 ? SENDERS : [...SENDERS].reverse();
      for (const { name, label } of order) {
        const measured = await runSenderProcess(name, inlet, events);
        results.push({ sender: name, label, events, stored: 0, ...measured });
      }
      // The server answered 200 only once events were committed, so the store is complete now.
      const counts = await countStored(inlet.dataDir);
      for (const r of results.slice(-SENDERS.length)) r.stored = counts.get(`bench_${r.sender}`) ?? 0;
    } finally {
      await inlet.stop();
    }
  }
  return results;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

export function formatTable(results: SenderResult[]): string {
  const header = ['sender', 'events', 'stored', 'wall s', 'events/s', 'CPU s', 'CPU µs/event', 'peak RSS MB', 'RSS before MB', 'failures'];
  const rows = results.map((r) => [
    r.label,
    String(r.events),
    String(r.stored),
    (r.wallMs / 1000).toFixed(2),
    Math.round(r.events / (r.wallMs / 1000)).toLocaleString('en-US'),
    (r.cpuMs / 1000).toFixed(2),
    ((r.cpuMs * 1000) / r.events).toFixed(1),
    mb(r.peakRssBytes),
    mb(r.baselineRssBytes),
    String(r.reportedFailures),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === THIS_FILE) {
  const { values } = parseArgs({
    options: {
      sender: { type: 'string' },
      url: { type: 'string' },
      'write-key': { type: 'string' },
      events: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '1' },
    },
  });
  const events = Number(values.events);
  if (values.sender) {
    await runSender(values.sender as SenderName, values.url!, values['write-key']!, events);
  } else {
    const results = await run({ events, rounds: Number(values.rounds) });
    console.log(formatTable(results));
    const incomplete = results.filter((r) => r.stored !== r.events);
    for (const r of incomplete) console.error(`${r.label}: the server stored ${r.stored} of ${r.events}`);
    const byName = (name: SenderName) => results.filter((r) => r.sender === name);
    const mean = (rs: SenderResult[], f: (r: SenderResult) => number) => rs.reduce((n, r) => n + f(r), 0) / rs.length;
    const inlet = byName('inlet');
    for (const other of ['segment', 'segment-flushAt500'] as const) {
      const o = byName(other);
      console.log(`${other}: @inlet/node is ${(mean(o, (r) => r.wallMs) / mean(inlet, (r) => r.wallMs)).toFixed(1)}x the throughput, ` +
        `${(mean(o, (r) => r.cpuMs) / mean(inlet, (r) => r.cpuMs)).toFixed(1)}x less CPU, ` +
        `${(mean(o, (r) => r.peakRssBytes) / mean(inlet, (r) => r.peakRssBytes)).toFixed(2)}x less peak RSS`);
    }
    process.exitCode = incomplete.length > 0 ? 1 : 0;
  }
}
