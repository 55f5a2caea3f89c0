// The embedded store on its own, without HTTP: how fast group commits go, and how long a write
// waits, with the messageIds Inlet's SDKs send (UUIDv7) and those Segment's send (UUIDv4) (the
// unique index on (source, messageId) is where the two differ), and what failed events cost the
// writer beside stored ones. Runs the real EmbeddedSink.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { newMessageId, type NormalizedRecord } from '@inlet/schema';
import { EmbeddedSink } from '../packages/server/src/sinks/embedded-sink.ts';
import type { StoredEvent } from '../packages/server/src/sinks/sink.ts';
import { failedEventOf, type FailedRecord } from '../packages/server/src/failed/failed-event.ts';

interface SuiteOptions {
  quick?: boolean;
  log?: (line: string) => void;
}

const EVENTS_PER_WRITE = 100;
/** writes in flight at peak, like concurrent HTTP requests */
const CONCURRENT_WRITES = 20;
const PROPERTIES = JSON.stringify({ product_id: 'sku-1042', name: 'Trail running shoe', price: 129.99, currency: 'EUR', quantity: 1, note: 'x'.repeat(300) });

/** What a write holds: `failed` of its EVENTS_PER_WRITE events are failed events (as an invalid event of W1F is kept). */
interface Mix { ids: 'v7' | 'v4'; failed: number; label: string }

const MIXES: Mix[] = [
  { ids: 'v7', failed: 0, label: 'UUIDv7' },
  { ids: 'v4', failed: 0, label: 'UUIDv4' },
  { ids: 'v7', failed: EVENTS_PER_WRITE / 10, label: 'UUIDv7, 10% failed' },
  { ids: 'v7', failed: EVENTS_PER_WRITE, label: 'failed events only' },
];

const INVALID = JSON.parse(`{"type":"track","userId":"user-1","properties":${PROPERTIES}}`) as Record<string, unknown>;

function writeOf(mix: Mix): { events: StoredEvent[]; failed: FailedRecord[] } {
  const receivedAtMs = Date.now();
  const receivedAt = new Date(receivedAtMs).toISOString();
  const events = Array.from({ length: EVENTS_PER_WRITE - mix.failed }, () => {
    const messageId = mix.ids === 'v7' ? newMessageId() : randomUUID();
    const record = { sourceId: 'src_bench', messageId, receivedAt } as NormalizedRecord;
    return { record, json: `{"type":"track","messageId":"${messageId}","receivedAt":"${receivedAt}","properties":${PROPERTIES}}` };
  });
  const context = { sourceId: 'src_bench', receivedAtMs, route: '/v1/batch', ip: '203.0.113.7', ipPolicy: 'full' as const, sentAt: undefined, type: undefined, keepClientIp: false, historical: false };
  const failed = Array.from({ length: mix.failed }, (_, i) => failedEventOf(context, { ...INVALID, messageId: newMessageId() }, i, 'invalid', ['event is required']));
  return { events, failed };
}

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

async function timed(sink: EmbeddedSink, mix: Mix, latencies: number[]): Promise<void> {
  const { events, failed } = writeOf(mix);
  const start = performance.now();
  await sink.write(events, failed);
  latencies.push(performance.now() - start);
}

/** Closed loop: CONCURRENT_WRITES writers, each sending its next write when the last is committed. */
async function peak(sink: EmbeddedSink, mix: Mix, seconds: number) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  // This process's CPU, every thread: the main thread's side, the writer and the checkpointer.
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: CONCURRENT_WRITES }, async () => {
    while (performance.now() < end) await timed(sink, mix, latencies);
  }));
  const cpu = process.cpuUsage(cpuBefore);
  const events = latencies.length * EVENTS_PER_WRITE;
  return { eventsPerSecond: events / ((performance.now() - start) / 1000), cpuMicrosPerEvent: (cpu.user + cpu.system) / events, ...quantiles(latencies) };
}

/** Open loop: writes due at an even pace; latency counts from when each was due. */
async function paced(sink: EmbeddedSink, mix: Mix, eventsPerSecond: number, seconds: number) {
  const latencies: number[] = [];
  const interval = (1000 * EVENTS_PER_WRITE) / eventsPerSecond;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let k = 0; k * interval < seconds * 1000; k++) {
    const due = start + k * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { events, failed } = writeOf(mix);
    pending.push(sink.write(events, failed).then(() => { latencies.push(performance.now() - due); }));
  }
  await Promise.all(pending);
  return quantiles(latencies);
}

export async function run(options: SuiteOptions = {}): Promise<{ markdown: string }> {
  const log = options.log ?? console.error;
  const seconds = options.quick ? 5 : 15;
  const rows: string[] = [];
  const perEventUs = new Map<string, number>();
  for (const mix of MIXES) {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-store-'));
    const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 60_000 });
    try {
      const top = await peak(sink, mix, seconds);
      const half = await paced(sink, mix, top.eventsPerSecond / 2, seconds);
      log(`  ${mix.label}: ${Math.round(top.eventsPerSecond)} events/s at peak, ${top.cpuMicrosPerEvent.toFixed(1)} µs CPU per event; half of it: write p99 ${half.p99.toFixed(1)} ms`);
      const f = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
      perEventUs.set(mix.label, 1e6 / top.eventsPerSecond);
      rows.push(`| ${mix.label} | ${Math.round(top.eventsPerSecond).toLocaleString('en-US')} | ${(1e6 / top.eventsPerSecond).toFixed(1)} | ${top.cpuMicrosPerEvent.toFixed(1)} | ${f(top.p50)} | ${f(top.p99)} | ${f(half.p50)} | ${f(half.p99)} | ${f(half.max)} |`);
    } finally {
      await sink.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const stored = perEventUs.get('UUIDv7');
  const failedOnly = perEventUs.get('failed events only');
  const cost = stored && failedOnly ? `A failed event costs the writer ${failedOnly.toFixed(1)} µs against ${stored.toFixed(1)} µs for a stored one (${(failedOnly / stored).toFixed(2)}×; peak commit time per event, the writer thread being the bottleneck at peak).` : '';
  return {
    markdown: [
      `The real EmbeddedSink in this process, writes of ${EVENTS_PER_WRITE} events of ~530 bytes (like W1). Peak: ${CONCURRENT_WRITES} writes in flight for ${seconds} s. Half: writes paced evenly at half of that peak for ${seconds} s more, on top of what peak wrote; latency from when each write was due until it was committed (fsync'd). "10% failed": 10 of each write's events are failed events (an invalid event as W1F sends it, kept with its errors); "failed events only": all 100 are.`,
      '',
      '| write | peak events/s | µs per event at peak | CPU µs per event at peak (all threads; incl. building the writes) | peak write p50 ms | peak write p99 ms | ½-peak write p50 ms | ½-peak write p99 ms | ½-peak max ms |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
      ...rows,
      '',
      cost,
      '',
    ].join('\n'),
  };
}
