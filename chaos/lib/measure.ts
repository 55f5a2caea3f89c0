// The measurements every drill takes the same way: peak RSS of the server processes, readiness
// over time, status counts, and the comparison of what was acknowledged with what was stored.
import { memory } from '@inlet/testkit';
import type { Load } from '@inlet/testkit';
import type { DrillContext, Measurements } from './drill.ts';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting until ${what}`);
    await sleep(intervalMs);
  }
}

/** The highest RSS of a set of processes (a server and its restarts), sampled every 200 ms. */
export class RssWatch {
  peakBytes = 0;
  readonly #pids = new Set<number>();
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.sample(), 200);
    this.#timer.unref();
  }

  watch(pid: number): void {
    this.#pids.add(pid);
    this.sample();
  }

  /** The current RSS of one watched process (0 when it is gone). */
  rssOf(pid: number): number {
    try {
      return memory(pid).rssBytes;
    } catch {
      return 0;
    }
  }

  sample(): void {
    for (const pid of this.#pids) {
      try {
        const { rssBytes, peakRssBytes } = memory(pid);
        this.peakBytes = Math.max(this.peakBytes, rssBytes, peakRssBytes);
      } catch {
        this.#pids.delete(pid); // exited
      }
    }
  }

  stop(): number {
    this.sample();
    clearInterval(this.#timer);
    return this.peakBytes;
  }
}

/** /health/ready polled every 250 ms: when it said 200, and when not. */
export class ReadinessWatch {
  readonly samples: { at: number; status: number | string }[] = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(url: () => string) {
    this.#done = (async () => {
      while (this.#running) {
        const at = performance.now();
        let status: number | string;
        try {
          const response = await fetch(`${url()}/health/ready`, { signal: AbortSignal.timeout(2000) });
          status = response.status;
          await response.body?.cancel();
        } catch (error) {
          status = (error as { name?: string }).name === 'TimeoutError' ? 'timeout' : 'refused';
        }
        this.samples.push({ at, status });
        await sleep(Math.max(0, 250 - (performance.now() - at)));
      }
    })();
  }

  /** ms within [from, to] during which readiness answered 200 (each sample stands for the time until the next). */
  readyMs(from: number, to: number): number {
    let total = 0;
    for (let i = 0; i < this.samples.length; i++) {
      const start = Math.max(this.samples[i].at, from);
      const end = Math.min(this.samples[i + 1]?.at ?? to, to);
      if (end > start && this.samples[i].status === 200) total += end - start;
    }
    return total;
  }

  /** how many samples within [from, to] said 200, and how many were taken */
  counts(from: number, to: number): { ready: number; total: number } {
    const within = this.samples.filter((s) => s.at >= from && s.at <= to);
    return { ready: within.filter((s) => s.status === 200).length, total: within.length };
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/** Adds a load's status counts to the drill's. */
export function addStatuses(measured: Measurements, statuses: Map<number | string, number> | Record<string, number>): void {
  const entries = statuses instanceof Map ? [...statuses] : Object.entries(statuses);
  for (const [status, n] of entries) measured.statuses[String(status)] = (measured.statuses[String(status)] ?? 0) + n;
}

export interface Comparison {
  acked: number;
  stored: number;
  lost: number;
  duplicates: number;
  /** stored ids that were never sent (must be none) */
  unknown: number;
  lostSample: string[];
}

/** What the store holds against what was acknowledged: `storedIds` may hold other drills' ids, filtered by `sent`. */
export function compare(acked: Set<string>, sent: Set<string>, storedIds: Iterable<string>, prefix = ''): Comparison {
  const seen = new Map<string, number>();
  let unknown = 0;
  for (const id of storedIds) {
    if (prefix && !id.startsWith(prefix)) continue;
    if (!sent.has(id)) unknown++;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const lost = [...acked].filter((id) => !seen.has(id));
  let duplicates = 0;
  for (const n of seen.values()) duplicates += n - 1;
  return { acked: acked.size, stored: seen.size, lost: lost.length, duplicates, unknown, lostSample: lost.slice(0, 5) };
}

/** Fills acked/stored/lost/duplicates from a comparison (adding to earlier ones). */
export function record(measured: Measurements, c: Comparison): void {
  measured.acked = (measured.acked ?? 0) + c.acked;
  measured.stored = (measured.stored ?? 0) + c.stored;
  measured.lost = (measured.lost ?? 0) + c.lost;
  measured.duplicates = (measured.duplicates ?? 0) + c.duplicates;
}

export function lostDetail(c: Comparison): string {
  return c.lost === 0
    ? `all ${c.acked} acknowledged events stored (${c.stored} of the drill's events stored in all)`
    : `${c.lost} of ${c.acked} acknowledged events missing, e.g. ${c.lostSample.join(', ')}`;
}

/** Percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Statuses of a load that are neither 200 nor a retryable refusal (503, 429, no connection). */
export function unexpectedStatuses(load: Pick<Load, 'statuses'>): string[] {
  return [...load.statuses.keys()].filter((s) => typeof s === 'number' && s !== 200 && s !== 503 && s !== 429).map(String);
}

/**
 * What every loaded drill ends with: the load's statuses counted, acknowledged against stored
 * compared and recorded, and the check that no acknowledged event is missing.
 */
export function checkAcknowledgedStored(ctx: DrillContext, load: Pick<Load, 'acknowledged' | 'sent' | 'statuses'>, storedIds: Iterable<string>, prefix: string, name = 'no acknowledged event is lost'): Comparison {
  addStatuses(ctx.measured, load.statuses);
  const c = compare(load.acknowledged, load.sent, storedIds, prefix);
  record(ctx.measured, c);
  ctx.check({ name, ok: c.lost === 0 && c.acked > 0, detail: c.acked === 0 ? 'nothing was acknowledged at all' : lostDetail(c) });
  return c;
}

/**
 * Waits (up to `timeoutMs`) for the load's first 200 after `since` and records the time it took
 * as a recovery; returns whether it came. From the end of a fault (`answered`, the default): the
 * first 200 answered after it. From a kill (`sent`): the first 200 for a request sent after it
 * (answers the dead process had already written may still arrive).
 */
export async function timeRecovery(ctx: DrillContext, load: Load, since: number, options: { timeoutMs?: number; count?: 'answered' | 'sent' } = {}): Promise<boolean> {
  const first = () => (options.count === 'sent' ? load.firstSuccessSentAfter(since) : load.firstSuccessAnsweredAfter(since));
  const back = await waitFor('a write succeeds again', () => first() !== undefined, options.timeoutMs ?? 60_000, 20).then(() => true, () => false);
  if (back) ctx.measured.recoveryMs.push(first()! - since);
  return back;
}

/** 200s for requests sent at or after `from` and answered by `to`. */
export function successesWithin(load: Load, from: number, to: number): number {
  return load.successes.filter((s) => s.sentAt >= from && s.answeredAt <= to).length;
}
