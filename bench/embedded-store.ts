// The embedded store on its own, without HTTP: how fast group commits go, and how long a write
// waits, with the messageIds Inlet's SDKs send (UUIDv7) and those Segment's send (UUIDv4). The
// unique index on (source, messageId) is where the two differ. Runs the real EmbeddedSink.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { newMessageId, type NormalizedRecord } from '@inlet/schema';
import { EmbeddedSink } from '../packages/server/src/sinks/embedded-sink.ts';
import type { StoredEvent } from '../packages/server/src/sinks/sink.ts';

interface SuiteOptions {
  quick?: boolean;
  log?: (line: string) => void;
}

const EVENTS_PER_WRITE = 100;
/** writes in flight at peak, like concurrent HTTP requests */
const CONCURRENT_WRITES = 20;
const PROPERTIES = JSON.stringify({ product_id: 'sku-1042', name: 'Trail running shoe', price: 129.99, currency: 'EUR', quantity: 1, note: 'x'.repeat(300) });

function writeOf(ids: 'v7' | 'v4'): StoredEvent[] {
  const receivedAt = new Date().toISOString();
  return Array.from({ length: EVENTS_PER_WRITE }, () => {
    const messageId = ids === 'v7' ? newMessageId() : randomUUID();
    const record = { sourceId: 'src_bench', messageId, receivedAt } as NormalizedRecord;
    return { record, json: `{"type":"track","messageId":"${messageId}","receivedAt":"${receivedAt}","properties":${PROPERTIES}}` };
  });
}

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

async function timed(sink: EmbeddedSink, ids: 'v7' | 'v4', latencies: number[]): Promise<void> {
  const start = performance.now();
  await sink.write(writeOf(ids));
  latencies.push(performance.now() - start);
}

/** Closed loop: CONCURRENT_WRITES writers, each sending its next write when the last is committed. */
async function peak(sink: EmbeddedSink, ids: 'v7' | 'v4', seconds: number) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT_WRITES }, async () => {
    while (performance.now() < end) await timed(sink, ids, latencies);
  }));
  return { eventsPerSecond: (latencies.length * EVENTS_PER_WRITE) / ((performance.now() - start) / 1000), ...quantiles(latencies) };
}

/** Open loop: writes due at an even pace; latency counts from when each was due. */
async function paced(sink: EmbeddedSink, ids: 'v7' | 'v4', eventsPerSecond: number, seconds: number) {
  const latencies: number[] = [];
  const interval = (1000 * EVENTS_PER_WRITE) / eventsPerSecond;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let k = 0; k * interval < seconds * 1000; k++) {
    const due = start + k * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(sink.write(writeOf(ids)).then(() => { latencies.push(performance.now() - due); }));
  }
  await Promise.all(pending);
  return quantiles(latencies);
}

export async function run(options: SuiteOptions = {}): Promise<{ markdown: string }> {
  const log = options.log ?? console.error;
  const seconds = options.quick ? 5 : 15;
  const rows: string[] = [];
  for (const ids of ['v7', 'v4'] as const) {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-store-'));
    const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 60_000 });
    try {
      const top = await peak(sink, ids, seconds);
      const half = await paced(sink, ids, top.eventsPerSecond / 2, seconds);
      log(`  UUID${ids}: ${Math.round(top.eventsPerSecond)} events/s at peak; half of it: write p99 ${half.p99.toFixed(1)} ms`);
      const f = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
      rows.push(`| UUID${ids} | ${Math.round(top.eventsPerSecond).toLocaleString('en-US')} | ${f(top.p50)} | ${f(top.p99)} | ${f(half.p50)} | ${f(half.p99)} | ${f(half.max)} |`);
    } finally {
      await sink.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return {
    markdown: [
      `The real EmbeddedSink in this process, writes of ${EVENTS_PER_WRITE} events of ~530 bytes (like W1). Peak: ${CONCURRENT_WRITES} writes in flight for ${seconds} s. Half: writes paced evenly at half of that peak for ${seconds} s more, on top of what peak wrote; latency from when each write was due until it was committed (fsync'd).`,
      '',
      '| messageIds | peak events/s | peak write p50 ms | peak write p99 ms | ½-peak write p50 ms | ½-peak write p99 ms | ½-peak max ms |',
      '|---|--:|--:|--:|--:|--:|--:|',
      ...rows,
      '',
    ].join('\n'),
  };
}
