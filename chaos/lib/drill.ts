// What a drill is and what it reports. A drill does one bad thing to real processes and returns
// the same measurements as every other drill (acked, stored, lost, duplicates, status counts,
// time to recover, peak RSS) and the checks it judged them by. A check either states an
// invariant that holds today (no acknowledged event lost, the server stays up) or names the
// hardening work (issue 16) that has yet to make it hold; either way a failed check fails the drill.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaCluster } from '@inlet/testkit';

export interface Check {
  /** the behaviour, as a sentence that is true when the check holds */
  name: string;
  ok: boolean;
  /** what was measured */
  detail: string;
  /** set when the hardening work is what will make this hold (the test suite marks it todo until then) */
  hardening?: string;
}

export interface Measurements {
  /** events the server answered 200 for */
  acked?: number;
  /** of the drill's events, how many distinct ones the store or topic holds */
  stored?: number;
  /** acknowledged events missing from the store or topic */
  lost?: number;
  /** events stored more than once (extra copies) */
  duplicates?: number;
  /** HTTP statuses (or error codes) of every request the drill's clients made */
  statuses: Record<string, number>;
  /** each recovery the drill timed, in ms (what is timed is said in the drill's description) */
  recoveryMs: number[];
  /** the highest RSS of the server process(es) seen during the drill */
  peakRssBytes?: number;
  /** other numbers worth printing, one line each */
  notes: string[];
}

export interface DrillResult extends Measurements {
  name: string;
  title: string;
  checks: Check[];
  durationMs: number;
  /** the drill could not finish (the fault is the harness's or the environment's, or a hang) */
  error?: string;
}

export interface DrillContext {
  /** shorter phases and smaller attacks: seconds instead of minutes (npm test, --quick) */
  quick: boolean;
  log(message: string): void;
  /** runs after the drill, last registered first, whether it passed, failed or threw */
  defer(cleanup: () => unknown): void;
  /** a temporary directory removed after the drill */
  tmpdir(prefix: string): string;
  /** a one-node Kafka cluster shared by the drills of one run (a drill that stops it restarts it) */
  kafka(): Promise<KafkaCluster>;
  /** the measurements the drill fills in */
  measured: Measurements;
  check(check: Check): void;
}

export interface Drill {
  name: string;
  /** one line for the table */
  title: string;
  /** what the drill does and how its numbers are taken, for RELIABILITY.md */
  description: string;
  /** what it needs beyond Node (to skip or fail clearly when missing) */
  needs: Need[];
  run(ctx: DrillContext): Promise<void>;
}

export type Need = 'kafka' | 'postgres' | 'redis-server' | 'root';

export interface RunOptions {
  quick: boolean;
  log?: (message: string) => void;
  kafka: () => Promise<KafkaCluster>;
}

/** Cleanups of drills still running, for an interrupted run (SIGINT) to undo what they did. */
const pending = new Set<(() => unknown)[]>();

async function runCleanups(cleanups: (() => unknown)[], log: (m: string) => void): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (e) {
      log(`cleanup failed: ${(e as Error).message}`);
    }
  }
}

/** Undoes what running drills set up (servers, mounts, namespaces, relays); for SIGINT. */
export async function cleanUpRunningDrills(): Promise<void> {
  for (const cleanups of pending) await runCleanups(cleanups, (m) => console.error(m));
}

export async function runDrill(drill: Drill, options: RunOptions): Promise<DrillResult> {
  const cleanups: (() => unknown)[] = [];
  pending.add(cleanups);
  const checks: Check[] = [];
  const measured: Measurements = { statuses: {}, recoveryMs: [], notes: [] };
  const log = options.log ?? ((m: string) => console.log(`  [${drill.name}] ${m}`));
  const ctx: DrillContext = {
    quick: options.quick,
    log,
    defer: (cleanup) => { cleanups.push(cleanup); },
    tmpdir: (prefix) => {
      const dir = mkdtempSync(join(tmpdir(), `inlet-chaos-${prefix}-`));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    kafka: options.kafka,
    measured,
    check: (check) => {
      checks.push(check);
      log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name} — ${check.detail}`);
    },
  };
  const started = performance.now();
  let error: string | undefined;
  try {
    await drill.run(ctx);
  } catch (e) {
    error = e instanceof Error ? e.stack ?? e.message : String(e);
    log(`error: ${error}`);
  } finally {
    await runCleanups(cleanups, log);
    pending.delete(cleanups);
  }
  return { name: drill.name, title: drill.title, ...measured, checks, durationMs: performance.now() - started, error };
}

export function passed(result: DrillResult): boolean {
  return !result.error && result.checks.length > 0 && result.checks.every((c) => c.ok);
}

/** Why the drill passed or failed, in one line. */
export function reason(result: DrillResult): string {
  if (result.error) return `did not finish: ${result.error.split('\n')[0]}`;
  const failed = result.checks.filter((c) => !c.ok);
  if (failed.length === 0) return `all ${result.checks.length} checks held`;
  return failed.map((c) => `${c.name}: ${c.detail}`).join('; ');
}
