// The overload cell (`--suite overload`, issue 17): what a server does when offered more than it
// can take. Per server: its peak (closed loop, as an HTTP cell), then, on the same process, an
// open-loop load paced at twice that peak between two light phases at half of it:
//
//   half of peak (unloaded tail) → 2× peak for the overload window (measured) → half of peak (recovery)
//
// The open loop matters: a closed-loop generator slows down with the server and never overloads
// it. Latency counts from when a request was due, so time a request waited for one of the
// generator's connections counts too. What a good server does: keeps its goodput (2xx per second)
// near its peak, refuses the excess quickly with 503 + Retry-After, keeps the accepted requests'
// tail and its memory bounded, and is back to its unloaded tail soon after the overload ends.
import { join } from 'node:path';
import { adminMetricsIfAny, formatBucketBound, formatRefused, refusedBetween, sinkWriteMsBetween } from './admin.ts';
import { COULD_NOT_START, cpuMicrosPerEvent, summarizeProfiles, withCellServer } from './harness.ts';
import type { LoadResult, OverloadPhases } from './load.ts';
import { runLoad } from './run-load.ts';
import type { ServerDefinition } from './servers.ts';
import type { MessageIdKind, Workload } from './workloads.ts';

export interface OverloadOptions {
  servers: ServerDefinition[];
  workloads: Workload[];
  /** concurrency of the closed-loop peak run */
  connections: number;
  warmupSeconds: number;
  /** the closed-loop peak run */
  peakSeconds: number;
  /** the overload window (issue 17: 30 s) */
  overloadSeconds: number;
  /** each light phase, before and after */
  lightSeconds: number;
  /** offered load as a multiple of the measured peak */
  factor: number;
  /** the generator's connections during the overload: enough for requests to pile up in the server, not in the generator */
  overloadConnections: number;
  messageIds: MessageIdKind;
  partitions: number;
  /** when set, servers run with --cpu-prof: a directory per cell under it, summaries in the cell */
  profileDir?: string;
  kafkaBootstrap(): Promise<string>;
  log(line: string): void;
}

export interface OverloadCell {
  server: string;
  workload: string;
  failure?: string;
  peakRequestsPerSecond: number;
  offeredRate: number;
  /** 2xx per second in the overload window */
  goodput: number;
  refusedPerSecond: number;
  /** non-2xx other than 503, and connection errors, in the overload window */
  otherFailures: number;
  /** requests due in the overload window that never got a connection (the generator's own queue) */
  neverSent: number;
  accepted: LoadResult['latency'];
  phases?: OverloadPhases;
  peakRssBytes: number;
  cpuMicrosPerEvent: number;
  generatorCpu: number;
  /** the main thread's CPU per 2xx request at the peak */
  mainMicrosPerAccepted: number;
  /** the main thread's share of one core at the peak and in the overload window (1 = always busy) */
  mainBusyAtPeak: number;
  mainBusyInOverload: number;
  /** the main thread's share of the overload window spent ready to run but without a core */
  mainWaitingInOverload: number;
  /** see residualMicrosPerRefusal */
  mainMicrosPerRefusal: number;
  /** the server's own count of its 503s by bound (inlet_overload_refusals_total) over the light phases and the overload; undefined for a server without one */
  refusedByBound?: Map<string, number>;
  /** the bucket bounds (ms) of the p50 and p99 of the server's own sink write time (inlet_sink_write_seconds, events stored) over the light phases and the overload */
  sinkWriteMs?: { p50: number; p99: number };
  /** markdown summaries of the cell's CPU profiles (--cpu-prof): the whole life of the server, peak and overload */
  profiles: string[];
}

/**
 * What the overload window's refusals cost the main thread, as a residual: its CPU there beyond the
 * 2xx at their cost at the peak, over the refusals. It charges to the refusals whatever else the
 * overload costs (a 2xx dearer than at the peak, failures other than 503), so it is an upper bound
 * on a refusal's own price; NaN without refusals or when the 2xx alone account for all of it.
 */
export function residualMicrosPerRefusal(mainCpuSeconds: number, accepted: number, microsPerAccepted: number, refused: number): number {
  const residual = (mainCpuSeconds * 1e6 - accepted * microsPerAccepted) / refused;
  return refused > 0 && residual >= 0 ? residual : NaN;
}

const emptyLatency = { p50: NaN, p99: NaN, p999: NaN, max: NaN };

async function runOverloadCell(o: OverloadOptions, def: ServerDefinition, workload: Workload, runId: string): Promise<OverloadCell> {
  const label = `${def.name} ${workload.name} overload`;
  const cell: OverloadCell = {
    server: def.name, workload: workload.name, peakRequestsPerSecond: NaN, offeredRate: NaN, goodput: NaN, refusedPerSecond: NaN,
    otherFailures: 0, neverSent: 0, accepted: emptyLatency, peakRssBytes: NaN, cpuMicrosPerEvent: NaN, generatorCpu: NaN,
    mainMicrosPerAccepted: NaN, mainBusyAtPeak: NaN, mainBusyInOverload: NaN, mainWaitingInOverload: NaN, mainMicrosPerRefusal: NaN, profiles: [],
  };
  const profileDir = o.profileDir ? join(o.profileDir, `${def.name}-${workload.name}-overload`) : undefined;
  let result: OverloadCell;
  try {
    result = await withCellServer(o, def, `${runId}-${def.name}-${workload.name}-overload`, profileDir, async ({ server }) => {
      const job = { url: server.url, workload: workload.name, writeKey: server.writeKey, connections: o.connections, messageIds: o.messageIds };
      const peak = await runLoad({ ...job, warmupSeconds: o.warmupSeconds, durationSeconds: o.peakSeconds }, server.pid);
      cell.peakRequestsPerSecond = peak.load.ok / (peak.load.durationSeconds || o.peakSeconds);
      cell.mainMicrosPerAccepted = (peak.server.mainThreadCpuSeconds * 1e6) / peak.load.ok;
      cell.mainBusyAtPeak = peak.server.mainThreadCpuSeconds / (peak.load.durationSeconds || o.peakSeconds);
      if (!(cell.peakRequestsPerSecond >= 2)) throw new Error(`peak of ${cell.peakRequestsPerSecond.toFixed(1)} req/s is too low to overload`);
      cell.offeredRate = Math.round(cell.peakRequestsPerSecond * o.factor);
      const lightRate = Math.max(1, Math.round(cell.peakRequestsPerSecond / 2));
      const countedBefore = await adminMetricsIfAny(server.banner);
      o.log(`  ${label}: peak ${Math.round(cell.peakRequestsPerSecond)} req/s; offering ${cell.offeredRate} req/s for ${o.overloadSeconds} s between ${o.lightSeconds} s phases at ${lightRate} req/s`);
      const run = await runLoad({
        ...job,
        warmupSeconds: 0,
        durationSeconds: o.overloadSeconds,
        overload: { rate: cell.offeredRate, lightRate, baselineSeconds: o.lightSeconds, recoverySeconds: o.lightSeconds, connections: o.overloadConnections },
      }, server.pid);
      const countedAfter = await adminMetricsIfAny(server.banner);
      if (countedBefore !== undefined && countedAfter !== undefined) {
        cell.refusedByBound = refusedBetween(countedBefore, countedAfter);
        cell.sinkWriteMs = sinkWriteMsBetween(countedBefore, countedAfter);
      }
      const seconds = run.load.durationSeconds || o.overloadSeconds;
      const refused = run.load.overload?.refusedCount ?? 0;
      Object.assign(cell, {
        goodput: run.load.ok / seconds,
        refusedPerSecond: refused / seconds,
        otherFailures: run.load.non2xx - refused + run.load.errors,
        neverSent: run.load.timeouts,
        accepted: run.load.latency,
        phases: run.load.overload,
        peakRssBytes: run.server.peakRssBytes,
        cpuMicrosPerEvent: cpuMicrosPerEvent(run.server.cpuSeconds, run.load.ok * workload.eventsPerRequest),
        generatorCpu: run.load.generatorCpu,
        mainBusyInOverload: run.server.mainThreadCpuSeconds / seconds,
        mainWaitingInOverload: run.server.mainThreadWaitSeconds / seconds,
        mainMicrosPerRefusal: residualMicrosPerRefusal(run.server.mainThreadCpuSeconds, run.load.ok, cell.mainMicrosPerAccepted, refused),
      });
      o.log(`  ${label}: goodput ${Math.round(cell.goodput)} req/s (${((cell.goodput / cell.peakRequestsPerSecond) * 100).toFixed(0)}% of peak), 503 ${Math.round(cell.refusedPerSecond)}/s, accepted p99 ${cell.accepted.p99.toFixed(1)} ms, back to tail after ${cell.phases?.recoveredAfterSeconds ?? NaN} s`);
      return cell;
    });
  } catch (error) {
    const message = (error as Error).message;
    o.log(`  ${label}: FAILED — ${(error as Error).stack?.split('\n').slice(0, 4).join(' / ')}`);
    result = { ...cell, failure: message.startsWith(COULD_NOT_START) ? message.split('\n')[0] : message };
  }
  // Written as the server exits, which withCellServer waits for; a failed cell's too, where they help most.
  if (profileDir) result.profiles = summarizeProfiles(profileDir, label);
  return result;
}

export async function runOverloadSuite(o: OverloadOptions): Promise<OverloadCell[]> {
  const runId = `${Date.now().toString(36)}o`;
  const cells: OverloadCell[] = [];
  for (const workload of o.workloads) for (const def of o.servers) cells.push(await runOverloadCell(o, def, workload, runId));
  return cells;
}

const num = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const ms = (n: number) => (n === Infinity ? 'non-2xx' : Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '–');

export function formatOverload(cells: OverloadCell[], o: Pick<OverloadOptions, 'factor' | 'overloadSeconds' | 'lightSeconds' | 'connections' | 'overloadConnections'>): string {
  const rows = cells.map((c) => {
    if (c.failure) return `| ${c.server} | ${c.workload} | failed: ${c.failure.split('\n')[0].replace(/\|/g, '/')} |${' |'.repeat(16)}`;
    const p = c.phases;
    const retryAfter = p && p.refusedCount > 0 ? `${((p.withRetryAfter / p.refusedCount) * 100).toFixed(0)}%` : '–';
    const back = p ? (Number.isFinite(p.recoveredAfterSeconds) ? `${p.recoveredAfterSeconds} s` : `not within ${o.lightSeconds} s`) : '–';
    return `| ${c.server} | ${c.workload} | ${num(c.peakRequestsPerSecond)} | ${num(c.offeredRate)} | ${num(c.goodput)} | ${num((c.goodput / c.peakRequestsPerSecond) * 100)}% | ${num(c.refusedPerSecond)} | ${ms(p?.refused.p99 ?? NaN)} | ${retryAfter} | ${c.otherFailures} / ${c.neverSent} | ${ms(c.accepted.p50)} / ${ms(c.accepted.p99)} | ${ms(p?.fromSent.accepted.p99 ?? NaN)} / ${ms(p?.fromSent.refused.p99 ?? NaN)} | ${num(c.peakRssBytes / 2 ** 20)} | ${ms(p?.baseline.p99 ?? NaN)} | ${back} | ${num(c.cpuMicrosPerEvent, 1)} | ${num(c.generatorCpu, 2)} | ${num(c.mainMicrosPerAccepted)} / ${num(c.mainMicrosPerRefusal)} | ${num(c.mainBusyAtPeak * 100)}% / ${num(c.mainBusyInOverload * 100)}% + ${num(c.mainWaitingInOverload * 100)}% |`;
  });
  const byBound = cells.filter((c) => c.refusedByBound).map((c) =>
    `- ${c.server} ${c.workload}, as the server counted them over the light phases and the overload: 503s by bound ${formatRefused(c.refusedByBound!)}; the sink's write time (handed to durable, inlet_sink_write_seconds) p50 ≤ ${formatBucketBound(c.sinkWriteMs?.p50 ?? NaN)} ms, p99 ≤ ${formatBucketBound(c.sinkWriteMs?.p99 ?? NaN)} ms (bucket bounds)`);
  const recovery = cells.filter((c) => c.phases).flatMap((c) => [
    `- ${c.server} ${c.workload}: p99 of the 2xx per second of the overload (ms): ${c.phases!.acceptedP99BySecond.map(ms).join(', ')}`,
    `- ${c.server} ${c.workload}: p99 per second after the overload (ms; bound ${ms(c.phases!.recoveryBoundMs)}): ${c.phases!.recoveryP99.map(ms).join(', ')}`,
  ]);
  return [
    `Per server: its peak (closed loop, ${o.connections} connections), then on the same process an open loop paced at ${o.factor}× that peak for ${o.overloadSeconds} s on up to ${o.overloadConnections} connections, between two ${o.lightSeconds} s phases at half of the peak. Latencies count from when each request was due; "from sent" leaves out the time before a request was sent (waiting for one of the generator's connections, or for its own loop, which shares the server's cores here). "back to tail": seconds after the overload until every later second's p99 is within max(2 × the p99 before, that + 5 ms) with no non-2xx. Peak RSS covers the server's life up to the end of the overload window (VmHWM). CPU µs/event: server CPU in the overload window over the events answered 2xx. Main thread µs: its CPU per 2xx at the peak, and per 503 as a residual — its CPU in the overload window beyond the 2xx at their peak cost, over the 503s (an upper bound on a refusal's own price). Main thread busy: its share of one core at the peak and in the overload window, + the share of the overload window it was ready to run but had no core (the machine's cores were taken by other threads or processes); together near 100% say the main thread was the bottleneck.`,
    '',
    '| server | workload | peak req/s | offered req/s | goodput 2xx/s | goodput vs peak | 503/s | 503 p99 ms | 503 with Retry-After | other failures / never sent | accepted p50 / p99 ms | p99 ms from sent, 2xx / 503 | peak RSS MB | p99 ms before | back to tail | CPU µs/event | load-gen CPU | main thread µs per 2xx / per 503 | main thread busy, peak / overload + waiting for a core |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...byBound,
    ...recovery,
  ].join('\n');
}

/** Issue 17's overload targets, cell by cell. */
export function formatOverloadTargets(cells: OverloadCell[]): string {
  const lines: string[] = [];
  const check = (what: string, pass: boolean, detail: string) => lines.push(`- ${pass ? 'PASS' : 'FAIL'} ${what}: ${detail}`);
  for (const c of cells.filter((x) => !x.failure)) {
    const name = `${c.server} ${c.workload} overload`;
    const share = c.goodput / c.peakRequestsPerSecond;
    const price = Number.isFinite(c.mainMicrosPerRefusal)
      ? `; the main thread spent up to ${num(c.mainMicrosPerRefusal)} µs per 503 against ${num(c.mainMicrosPerAccepted)} µs per 2xx, busy ${num(c.mainBusyInOverload * 100)}% of the window and waiting for a core ${num(c.mainWaitingInOverload * 100)}%`
      : '';
    check(`${name}: goodput ≥ 90% of peak`, share >= 0.9, `${(share * 100).toFixed(0)}% (${num(c.goodput)} of ${num(c.peakRequestsPerSecond)} req/s)${price}`);
    const refusedP99 = c.phases?.refused.p99 ?? NaN;
    check(`${name}: p99 of 503 refusals < 20 ms`, refusedP99 < 20, c.phases?.refusedCount ? `${ms(refusedP99)} ms over ${c.phases.refusedCount} refusals` : 'no 503 at all');
    check(`${name}: p99 of accepted < 250 ms`, c.accepted.p99 < 250, `${ms(c.accepted.p99)} ms`);
    check(`${name}: peak RSS < 400 MB`, c.peakRssBytes < 400 * 2 ** 20, `${num(c.peakRssBytes / 2 ** 20)} MB`);
    const back = c.phases?.recoveredAfterSeconds ?? NaN;
    check(`${name}: back to the unloaded tail within 5 s`, back <= 5, Number.isFinite(back) ? `${back} s` : 'not within the recovery run');
  }
  return lines.join('\n');
}
