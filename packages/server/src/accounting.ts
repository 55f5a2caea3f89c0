// Per-source accounting: every event a source sends ends up stored, failed (by reason) or a
// duplicate of one already stored, so received = stored + failed + duplicate. The embedded store
// keeps these counts per minute in the same commit as the events (../db); on Kafka each server
// keeps them in memory since it started. Prometheus gets the same counts as counters.
import type { Counter } from 'prom-client';
import type { OutcomeRow } from './db/reader.ts';
import type { FailureReason } from './failed/reasons.ts';
import type { Metrics } from './metrics.ts';

export interface SourceStats {
  sourceId: string;
  received: number;
  stored: number;
  duplicate: number;
  failed: number;
  failedByReason: Record<string, number>;
  /** failed events stored later by a replay (not part of `received`: they were counted as failed) */
  replayed: number;
}

export interface MinuteStats {
  minute: string;
  stored: number;
  duplicate: number;
  failed: number;
  replayed: number;
}

/** Where counts come from: the embedded store, or one server's memory. */
export interface OutcomeSource {
  /** whether the counts cover the store (every instance) or only this process since it started */
  readonly scope: 'store' | 'process';
  /** when this process started counting (scope `process`) */
  readonly sinceMs?: number;
  outcomes(sinceMs: number, sourceId?: string): OutcomeRow[];
}

/** Failed events of one request, by reason. */
export type FailedCounts = Partial<Record<FailureReason, number>>;

const emptyStats = (sourceId: string): SourceStats => ({ sourceId, received: 0, stored: 0, duplicate: 0, failed: 0, failedByReason: {}, replayed: 0 });

/** Totals per source, sources in the order first seen (then by id). */
export function summarize(rows: readonly OutcomeRow[]): SourceStats[] {
  const bySource = new Map<string, SourceStats>();
  for (const row of rows) {
    let s = bySource.get(row.sourceId);
    if (!s) bySource.set(row.sourceId, s = emptyStats(row.sourceId));
    if (row.outcome === 'stored') s.stored += row.count;
    else if (row.outcome === 'duplicate') s.duplicate += row.count;
    else if (row.outcome === 'replayed') s.replayed += row.count;
    else if (row.outcome === 'failed') {
      s.failed += row.count;
      s.failedByReason[row.reason] = (s.failedByReason[row.reason] ?? 0) + row.count;
    }
  }
  for (const s of bySource.values()) s.received = s.stored + s.duplicate + s.failed;
  return [...bySource.values()].sort((a, b) => a.sourceId.localeCompare(b.sourceId));
}

/** Counts per minute, all sources of the rows together, oldest first. */
export function perMinute(rows: readonly OutcomeRow[]): MinuteStats[] {
  const byMinute = new Map<number, MinuteStats>();
  for (const row of rows) {
    let m = byMinute.get(row.minute);
    if (!m) byMinute.set(row.minute, m = { minute: new Date(row.minute * 60_000).toISOString(), stored: 0, duplicate: 0, failed: 0, replayed: 0 });
    if (row.outcome === 'stored' || row.outcome === 'duplicate' || row.outcome === 'failed' || row.outcome === 'replayed') m[row.outcome] += row.count;
  }
  return [...byMinute.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
}

/** Per-minute counts in memory for the last day (Kafka: there is no store to keep them in). */
export class MemoryOutcomes implements OutcomeSource {
  readonly scope = 'process';
  readonly sinceMs = Date.now();
  private static readonly KEEP_MINUTES = 24 * 60;
  private readonly minutes = new Map<number, Map<string, OutcomeRow>>();

  add(sourceId: string, outcome: string, reason: string, count: number, atMs = Date.now()): void {
    if (count === 0) return;
    const minute = Math.floor(atMs / 60_000);
    let rows = this.minutes.get(minute);
    if (!rows) {
      this.minutes.set(minute, rows = new Map());
      for (const old of this.minutes.keys()) if (old <= minute - MemoryOutcomes.KEEP_MINUTES) this.minutes.delete(old);
    }
    const key = `${sourceId}\u0000${outcome}\u0000${reason}`;
    const row = rows.get(key);
    if (row) row.count += count;
    else rows.set(key, { sourceId, outcome, reason, count, minute });
  }

  outcomes(sinceMs: number, sourceId?: string): OutcomeRow[] {
    const from = Math.floor(sinceMs / 60_000);
    const out: OutcomeRow[] = [];
    for (const [minute, rows] of [...this.minutes.entries()].sort((a, b) => a[0] - b[0])) {
      if (minute < from) continue;
      for (const row of rows.values()) if (sourceId === undefined || row.sourceId === sourceId) out.push({ ...row });
    }
    return out;
  }
}

/** Counts each request's outcome in Prometheus (and, on Kafka, in memory for `inlet stats`). */
export class Accounting {
  private readonly counters = new Map<string, Counter.Internal>();
  private readonly metrics: Metrics;
  private readonly memory: MemoryOutcomes | undefined;

  constructor(metrics: Metrics, memory?: MemoryOutcomes) {
    this.metrics = metrics;
    this.memory = memory;
  }

  /** A request's events, once they are durable. */
  request(sourceId: string, stored: number, duplicate: number, failed: FailedCounts): void {
    this.add(sourceId, 'stored', '', stored);
    this.add(sourceId, 'duplicate', '', duplicate);
    for (const reason in failed) this.add(sourceId, 'failed', reason, failed[reason as FailureReason] ?? 0);
  }

  replayed(sourceId: string, count: number): void {
    this.add(sourceId, 'replayed', '', count);
  }

  private add(sourceId: string, outcome: string, reason: string, count: number): void {
    if (count === 0) return;
    const key = `${sourceId}\u0000${outcome}\u0000${reason}`;
    let counter = this.counters.get(key);
    if (!counter) this.counters.set(key, counter = this.metrics.events.labels(sourceId, outcome, reason));
    counter.inc(count);
    this.memory?.add(sourceId, outcome, reason, count);
  }
}

export interface StatsReport {
  /** `store`: everything the embedded store counted; `process`: this server only, since it started */
  scope: 'store' | 'process';
  since: string;
  until: string;
  sources: SourceStats[];
  /** per minute, every source of the report together (when asked for) */
  minutes?: MinuteStats[];
}

export function statsReport(source: OutcomeSource, sinceMs: number, options: { sourceId?: string; series?: boolean; nowMs?: number } = {}): StatsReport {
  const rows = source.outcomes(sinceMs, options.sourceId);
  const since = source.scope === 'process' ? Math.max(sinceMs, source.sinceMs ?? sinceMs) : sinceMs;
  return {
    scope: source.scope,
    // Counts are kept per minute: the report starts at the minute `since` falls in.
    since: new Date(Math.floor(since / 60_000) * 60_000).toISOString(),
    until: new Date(options.nowMs ?? Date.now()).toISOString(),
    sources: summarize(rows),
    ...(options.series ? { minutes: perMinute(rows) } : {}),
  };
}
