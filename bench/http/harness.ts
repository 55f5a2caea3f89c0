// The HTTP benchmark: every (server, workload, concurrency) cell gets a freshly started server
// (and, for Kafka servers, a fresh topic), load from a separate process, and the server process's
// CPU and memory sampled over the measured window. Optionally a second, rate-limited run at half
// of the cell's peak request rate shows whether the tail is calm when the server is not saturated.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { countRecords, createTopic, deleteTopic } from '../lib/kafka-broker.ts';
import { serverPort } from '../lib/ports.ts';
import { formatSummary, loadProfile, summarize } from '../lib/top-functions.ts';
import { adminMetricsIfAny, refusedBetween, sinkBound, sinkWriteMsBetween } from './admin.ts';
import type { LoadResult } from './load.ts';
import { runLoad } from './run-load.ts';
import { startServerProcess, type ServerProcess } from './server-process.ts';
import type { ServerDefinition, ServerName } from './servers.ts';
import type { MessageIdKind, Workload, WorkloadName } from './workloads.ts';

export type HalfRateMode = 'inlet' | 'all' | 'none';

export interface HttpSuiteOptions {
  durationSeconds: number;
  warmupSeconds: number;
  connections: number[];
  workloads: Workload[];
  servers: ServerDefinition[];
  /** which servers also get the run at half of their peak rate */
  halfRate: HalfRateMode;
  /** times the whole matrix runs; the report shows the median of each cell (the machine is noisy) */
  rounds: number;
  /** the kind of messageIds the load carries */
  messageIds: MessageIdKind;
  /** partitions of the fresh topic each Kafka server writes to */
  partitions: number;
  /** when set, servers run with --cpu-prof and their profiles land here */
  profileDir?: string;
  /** the broker's bootstrap address; called only when a Kafka server is about to run */
  kafkaBootstrap(): Promise<string>;
  log(line: string): void;
}

export interface HalfRateResult {
  /** the paced rate asked for */
  targetRate: number;
  requestsPerSecond: number;
  /** requests due but still without a connection at the end (the server fell behind) */
  backlog: number;
  generatorCpu: number;
  latency: LoadResult['latency'];
  non2xx: number;
  errors: number;
  serverCpu: number;
  /** server CPU µs (all threads) per event answered with 2xx in the paced window */
  cpuMicrosPerEvent: number;
  /**
   * the server's sink write time at the p99 over the measured window (ms, a bucket bound of
   * inlet_sink_write_seconds); undefined for a server without /metrics, NaN if nothing was stored
   */
  sinkWriteP99Ms?: number;
}

export interface Cell {
  server: ServerName;
  workload: WorkloadName;
  connections: number;
  /** 1-based; a cell merged over rounds (report.ts) keeps each round's events/s and half-peak p99 */
  round: number;
  rounds?: { eventsPerSecond: number[]; halfRateP99: number[] };
  /** set when the cell could not be measured */
  failure?: string;
  eventsPerSecond: number;
  requestsPerSecond: number;
  latency: LoadResult['latency'];
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** the server's own count of its 503s by bound in the measured window (Inlet only) */
  refusedByBound?: Map<string, number>;
  serverCpu: number;
  /** server CPU µs (main and worker threads) per event of the requests answered with 2xx; W2: per request */
  cpuMicrosPerEvent: number;
  /** the part of it spent by the main thread (HTTP, parsing, preparing; the rest is the sink's threads and V8's helpers) */
  mainMicrosPerEvent: number;
  peakRssBytes: number;
  generatorCpu: number;
  /** the machine's 1-minute load average when the measured window ended (others' work shows here) */
  loadAverage: number;
  /** share of the measured window in which some task waited for a CPU (Linux PSI) */
  cpuStall: number;
  halfRate?: HalfRateResult;
  /** Kafka servers: events acknowledged (2xx, all phases) and records found in the topic afterwards */
  delivery?: { acknowledged: number; inTopic: number };
  /** markdown summaries of the cell's CPU profiles */
  profiles: string[];
}

export const COULD_NOT_START = 'could not start';
const emptyLatency = { p50: NaN, p99: NaN, p999: NaN, max: NaN };

function failedCell(server: ServerName, workload: WorkloadName, connections: number, round: number, failure: string): Cell {
  return {
    server, workload, connections, round, failure, eventsPerSecond: NaN, requestsPerSecond: NaN, latency: emptyLatency,
    non2xx: 0, errors: 0, timeouts: 0, statusCodes: {}, serverCpu: NaN, cpuMicrosPerEvent: NaN, mainMicrosPerEvent: NaN, peakRssBytes: NaN, generatorCpu: NaN, loadAverage: NaN, cpuStall: NaN, profiles: [],
  };
}

/** Profiles written by node --cpu-prof: one per thread; the main thread first (largest file). */
export function summarizeProfiles(dir: string, label: string): string[] {
  let files: string[];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort(); } catch { return []; }
  return files.map((file) => {
    const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? '?';
    try {
      const profile = loadProfile(join(dir, file));
      const summary = summarize(profile);
      const urls = profile.nodes.map((n) => n.callFrame.url);
      const name = thread === '0' ? 'main thread'
        : urls.some((u) => u.includes('kafka-producer')) ? `thread ${thread} (Kafka producer)`
        : urls.some((u) => u.includes('writer-thread') || u.includes('writer.worker')) ? `thread ${thread} (SQLite writer)`
          : urls.some((u) => u.includes('esm/hooks') || u.includes('esm/worker')) ? `thread ${thread} (module loader hooks)`
            : `thread ${thread}`;
      const busyMs = summary.totalMs - summary.idleMs;
      // Threads that barely ran (the loader's hook threads after start-up) get one line, not tables.
      if (thread !== '0' && (busyMs < 250 || name.includes('module loader'))) return `- ${label} — ${name}: ${busyMs.toFixed(0)} ms busy of ${(summary.totalMs / 1000).toFixed(1)} s\n`;
      return formatSummary(`${label} — ${name} (${join(dir, file)})`, summary, thread === '0' ? 20 : 10);
    } catch (error) {
      return `#### ${label} — ${file}\n\ncould not read the profile: ${(error as Error).message}\n`;
    }
  });
}

/** A server under test, started fresh for one cell, with its Kafka topics when it needs them. */
export interface CellServer {
  server: ServerProcess;
  kafka: { bootstrap: string; topic: string; failedTopic: string } | undefined;
}

export interface CellServerOptions {
  partitions: number;
  kafkaBootstrap(): Promise<string>;
}

/**
 * Starts `def` with a fresh data dir (and fresh topics on the run's broker), runs `body`, then
 * stops the server and removes what it wrote. A server that does not come up throws an error whose
 * message starts with COULD_NOT_START.
 */
export async function withCellServer<T>(o: CellServerOptions, def: ServerDefinition, tag: string, profileDir: string | undefined, body: (cell: CellServer) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), `inlet-bench-${def.name}-`));
  let kafka: CellServer['kafka'];
  let server: ServerProcess | undefined;
  try {
    if (def.needsKafka) {
      const bootstrap = await o.kafkaBootstrap();
      kafka = { bootstrap, topic: `raw-events-bench-${tag}`, failedTopic: `failed-events-bench-${tag}` };
      await createTopic(bootstrap, kafka.topic, o.partitions);
      await createTopic(bootstrap, kafka.failedTopic, o.partitions);
    }
    const port = await serverPort();
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const ctx = { port, dataDir, kafka };
    try {
      server = await startServerProcess(def.launch(ctx), {
        port,
        nodeFlags: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      });
      await def.prepare?.(ctx, server.url, server.writeKey, server.banner);
    } catch (error) {
      throw new Error(`${COULD_NOT_START}: ${(error as Error).message}`);
    }
    return await body({ server, kafka });
  } finally {
    await server?.stop();
    if (kafka) {
      await deleteTopic(kafka.bootstrap, kafka.topic);
      await deleteTopic(kafka.bootstrap, kafka.failedTopic);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Server CPU per event in microseconds: the whole process (main and worker threads) over the events it accepted. */
export function cpuMicrosPerEvent(cpuSeconds: number, events: number): number {
  return events > 0 ? (cpuSeconds * 1e6) / events : NaN;
}

async function runCell(o: HttpSuiteOptions, def: ServerDefinition, workload: Workload, connections: number, round: number, runId: string): Promise<Cell> {
  const label = `${def.name} ${workload.name} c${connections}${o.rounds > 1 ? ` round ${round}` : ''}`;
  const profileDir = o.profileDir ? join(o.profileDir, `${def.name}-${workload.name}-c${connections}${o.rounds > 1 ? `-r${round}` : ''}`) : undefined;
  try {
    return await withCellServer(o, def, `${runId}-${def.name}-${workload.name}-c${connections}`, profileDir, async ({ server, kafka }) => {
      const job = { url: server.url, workload: workload.name, writeKey: server.writeKey, connections, messageIds: o.messageIds };
      // (counted from before the warm-up: the server cannot tell it apart)
      const countedBefore = await adminMetricsIfAny(server.banner);
      const peak = await runLoad({ ...job, warmupSeconds: o.warmupSeconds, durationSeconds: o.durationSeconds }, server.pid);
      const countedAfter = await adminMetricsIfAny(server.banner);
      const seconds = peak.load.durationSeconds || o.durationSeconds;
      const cell: Cell = {
        server: def.name,
        workload: workload.name,
        connections,
        round,
        eventsPerSecond: (peak.load.ok * workload.eventsPerRequest) / seconds,
        requestsPerSecond: peak.load.ok / seconds,
        latency: peak.load.latency,
        non2xx: peak.load.non2xx,
        errors: peak.load.errors,
        timeouts: peak.load.timeouts,
        statusCodes: peak.load.statusCodes,
        refusedByBound: countedBefore !== undefined && countedAfter !== undefined ? refusedBetween(countedBefore, countedAfter) : undefined,
        serverCpu: peak.server.cpu,
        cpuMicrosPerEvent: cpuMicrosPerEvent(peak.server.cpuSeconds, peak.load.ok * workload.eventsPerRequest),
        mainMicrosPerEvent: cpuMicrosPerEvent(peak.server.mainThreadCpuSeconds, peak.load.ok * workload.eventsPerRequest),
        peakRssBytes: peak.server.peakRssBytes,
        generatorCpu: peak.load.generatorCpu,
        loadAverage: loadavg()[0],
        cpuStall: peak.server.cpuStall,
        profiles: [],
      };
      o.log(`  ${label}: ${Math.round(cell.eventsPerSecond)} events/s, ${Math.round(cell.requestsPerSecond)} req/s, ${cell.cpuMicrosPerEvent.toFixed(1)} µs CPU/event, p99 ${cell.latency.p99.toFixed(1)} ms, non-2xx ${cell.non2xx}, errors ${cell.errors}`);

      let halfOk: number | undefined;
      const wantsHalf = o.halfRate === 'all' || (o.halfRate === 'inlet' && def.isInlet);
      if (wantsHalf && cell.requestsPerSecond >= 2) {
        const rate = Math.max(1, Math.round(cell.requestsPerSecond / 2));
        // The sink's counters over the measured window only, like the latencies: the warm-up second
        // also finishes the writes the peak left in flight.
        let halfCountedBefore: Promise<string | undefined> | undefined;
        const half = await runLoad({ ...job, pacedRate: rate, warmupSeconds: Math.min(1, o.warmupSeconds), durationSeconds: o.durationSeconds }, server.pid, () => {
          halfCountedBefore = adminMetricsIfAny(server.banner);
          // Awaited after the run; until then a failed read must not count as unhandled.
          halfCountedBefore.catch(() => {});
        });
        const [sinkBefore, sinkAfter] = [await halfCountedBefore, await adminMetricsIfAny(server.banner)];
        halfOk = half.load.ok + half.load.warmupOk;
        cell.halfRate = {
          targetRate: rate,
          backlog: half.load.timeouts,
          generatorCpu: half.load.generatorCpu,
          requestsPerSecond: half.load.ok / (half.load.durationSeconds || o.durationSeconds),
          latency: half.load.latency,
          non2xx: half.load.non2xx,
          errors: half.load.errors,
          serverCpu: half.server.cpu,
          cpuMicrosPerEvent: cpuMicrosPerEvent(half.server.cpuSeconds, half.load.ok * workload.eventsPerRequest),
          sinkWriteP99Ms: sinkBefore !== undefined && sinkAfter !== undefined ? sinkWriteMsBetween(sinkBefore, sinkAfter).p99 : undefined,
        };
        o.log(`  ${label} paced at ${rate} req/s (half of peak): p50 ${half.load.latency.p50.toFixed(2)} ms, p99 ${half.load.latency.p99.toFixed(2)} ms${sinkBound(cell.halfRate.sinkWriteP99Ms)}`);
      }
      await server.stop();
      if (kafka) {
        const acknowledged = (peak.load.ok + peak.load.warmupOk + (halfOk ?? 0)) * workload.validPerRequest;
        cell.delivery = { acknowledged, inTopic: await countRecords(kafka.bootstrap, kafka.topic) };
        if (cell.delivery.inTopic < acknowledged) o.log(`  ${label}: only ${cell.delivery.inTopic} of ${acknowledged} acknowledged events are in the topic`);
      }
      if (profileDir) cell.profiles = summarizeProfiles(profileDir, label);
      return cell;
    });
  } catch (error) {
    const message = (error as Error).message;
    o.log(`  ${label}: FAILED — ${message.split('\n')[0]}`);
    return failedCell(def.name, workload.name, connections, round, message);
  }
}

/**
 * Every cell of every round. The servers a ratio compares run back to back (the loop over servers
 * is the innermost), and rounds repeat the whole matrix, so a slow spell of the machine lands on
 * one round of every server rather than on one server.
 */
export async function runHttpSuite(o: HttpSuiteOptions): Promise<Cell[]> {
  const runId = Date.now().toString(36);
  const cells: Cell[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    if (o.rounds > 1) o.log(`round ${round} of ${o.rounds}:`);
    for (const workload of o.workloads) {
      for (const connections of o.connections) {
        for (const def of o.servers) {
          // A server that cannot start will not start for the next cell either; skip, don't wait again.
          const startFailure = cells.find((c) => c.server === def.name && c.failure?.startsWith(COULD_NOT_START));
          cells.push(startFailure
            ? failedCell(def.name, workload.name, connections, round, `skipped: ${startFailure.failure!.split('\n')[0]}`)
            : await runCell(o, def, workload, connections, round, `${runId}r${round}`));
        }
      }
    }
  }
  return cells;
}
