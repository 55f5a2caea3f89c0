// The load generator: runs in its own process (forked by the harness) so it never shares an event
// loop with the server under test. It receives one LoadJob over IPC, runs autocannon for the
// warm-up and then for the measured window, and sends back a LoadResult.
import autocannon from 'autocannon';
import { runClosed } from './closed-load.ts';
import { runPaced } from './paced-load.ts';
import { bodyTemplate, WORKLOADS, type MessageIdKind, type WorkloadName } from './workloads.ts';

export interface LoadJob {
  url: string;
  workload: WorkloadName;
  writeKey: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /**
   * unset: closed loop, as fast as the server answers (autocannon); set: open loop at this many
   * evenly spaced requests per second (paced-load.ts), latency counted from when each was due
   */
  pacedRate?: number;
  messageIds: MessageIdKind;
  /**
   * The overload cell: paced at `lightRate` for `baselineSeconds` (the unloaded tail), then at
   * `rate` on `connections` connections for durationSeconds (the measured window), then at
   * `lightRate` again for `recoverySeconds` (how long until the tail is back)
   */
  overload?: { rate: number; lightRate: number; baselineSeconds: number; recoverySeconds: number; connections: number };
}

/** What the overload cell saw besides the overload window's LoadResult. */
export interface OverloadPhases {
  baseline: LoadResult['latency'];
  /** latency of 503 answers in the overload window (from when each request was due) */
  refused: LoadResult['latency'];
  refusedCount: number;
  /** 503 answers with a Retry-After header */
  withRetryAfter: number;
  /**
   * latency of the overload window's requests from when each was sent, 2xx and 503 apart: without
   * the wait for one of the generator's connections or for its own loop (on this machine the
   * generator shares the server's cores), so the server's time and the network's
   */
  fromSent: { accepted: LoadResult['latency']; refused: LoadResult['latency'] };
  /** p99 (ms) of the 2xx of each second of the overload window (by when each was due): where an accepted tail is set */
  acceptedP99BySecond: number[];
  /** p99 (ms) of each second of the recovery run, any non-2xx making it Infinity */
  recoveryP99: number[];
  /** seconds after the overload until every later second's p99 is within the unloaded tail's bound; NaN: not within the run */
  recoveredAfterSeconds: number;
  /** the bound: max(2 x baseline p99, baseline p99 + 5 ms) */
  recoveryBoundMs: number;
}

export interface LoadResult {
  durationSeconds: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** latency of 2xx responses, milliseconds */
  latency: { p50: number; p99: number; p999: number; max: number };
  /** 2xx responses during the warm-up (to check the sink holds everything it acknowledged) */
  warmupOk: number;
  /** CPU the load generator itself used, in cores (near 1.0 means it may be the bottleneck) */
  generatorCpu: number;
  overload?: OverloadPhases;
}

/** `measuring`: the measured window starts; `measured`: it is over (when more load follows it). */
export type LoadMessage = { type: 'measuring' } | { type: 'measured' } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

/** Response times in a growing typed array: a 15 s run at tens of thousands of req/s fits easily. */
class Latencies {
  private values: Float64Array;
  private count = 0;

  /** `capacity`: room before it first grows (a second's bucket needs less than a run) */
  constructor(capacity = 1 << 16) {
    this.values = new Float64Array(capacity);
  }

  add(ms: number): void {
    if (this.count === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.count++] = ms;
  }

  summary(): LoadResult['latency'] {
    const sorted = this.values.subarray(0, this.count).sort();
    const at = (q: number) => (this.count === 0 ? NaN : sorted[Math.min(this.count - 1, Math.ceil(q * this.count) - 1)]);
    return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
  }
}

function cannon(job: LoadJob, seconds: number, latencies?: Latencies): PromiseLike<autocannon.Result> {
  const template = bodyTemplate(WORKLOADS[job.workload], job.messageIds);
  const instance = autocannon({
    url: job.url + WORKLOADS[job.workload].path,
    connections: job.connections,
    duration: seconds,
    timeout: 10,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${job.writeKey}:`).toString('base64')}`,
    },
    requests: [{ setupRequest: (request) => ({ ...request, body: template.renderBytes() }) }],
  });
  if (latencies) {
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
    });
  }
  return instance;
}

function rawRequest(job: LoadJob): () => Buffer {
  const url = new URL(job.url);
  const template = bodyTemplate(WORKLOADS[job.workload], job.messageIds);
  const auth = Buffer.from(`${job.writeKey}:`).toString('base64');
  const head = Buffer.from(`POST ${WORKLOADS[job.workload].path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAuthorization: Basic ${auth}\r\nContent-Length: ${template.bytes}\r\n\r\n`, 'latin1');
  return () => Buffer.concat([head, template.renderBytes()]);
}

/**
 * Counts a raw-socket phase's responses by status and keeps the latencies of its 2xx; `result`
 * makes its LoadResult, with the generator's CPU since the tally began.
 */
function tally() {
  const latencies = new Latencies();
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  const cpuBefore = process.cpuUsage();
  return {
    count(ms: number, status: number): void {
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      if (status >= 200 && status < 300) { ok++; latencies.add(ms); }
    },
    /** `timeouts`: requests that were due but never got a connection (the server fell behind the rate) */
    result(run: { seconds: number; completed: number; errors: number }, timeouts: number): LoadResult {
      const cpu = process.cpuUsage(cpuBefore);
      return {
        durationSeconds: run.seconds,
        requests: run.completed,
        ok,
        non2xx: run.completed - ok,
        errors: run.errors,
        timeouts,
        statusCodes,
        latency: latencies.summary(),
        warmupOk: 0,
        generatorCpu: (cpu.user + cpu.system) / 1e6 / run.seconds,
      };
    },
  };
}

/** One paced phase: every response counted by status, latencies of 2xx kept (and of 503s, when asked). */
async function pacedPhase(job: LoadJob, rate: number, seconds: number, connections: number, onResponse?: (ms: number, status: number, dueMs: number, head: string, lateMs: number) => void) {
  const url = new URL(job.url);
  const counts = tally();
  const result = await runPaced({
    host: url.hostname, port: Number(url.port), rate, connections, request: rawRequest(job), seconds,
    onResponse: (ms, status, dueMs, head, lateMs) => {
      counts.count(ms, status);
      onResponse?.(ms, status, dueMs, head, lateMs);
    },
  });
  return counts.result(result, result.backlog);
}

/** One closed-loop phase of clients that honour Retry-After (closed-load.ts). */
async function closedPhase(job: LoadJob, seconds: number): Promise<LoadResult> {
  const url = new URL(job.url);
  const counts = tally();
  const result = await runClosed({
    host: url.hostname, port: Number(url.port), connections: job.connections, request: rawRequest(job), seconds,
    onResponse: (ms, status) => counts.count(ms, status),
  });
  return counts.result(result, 0);
}

/** A warm-up phase, then the measured one (the harness hears when it starts). */
async function warmedUp(job: LoadJob, phase: (seconds: number) => Promise<LoadResult>): Promise<LoadResult> {
  const warmup = job.warmupSeconds > 0 ? await phase(job.warmupSeconds) : undefined;
  process.send!({ type: 'measuring' } satisfies LoadMessage);
  return { ...(await phase(job.durationSeconds)), warmupOk: warmup?.ok ?? 0 };
}

/** The second of a phase a request was due in, the last one taking any that came due at its very end. */
const secondOf = (dueMs: number, seconds: number) => Math.min(seconds - 1, Math.floor(dueMs / 1000));

/**
 * Open-loop overload between two light phases. The overload phase keeps the latency of 503s apart
 * from that of 2xx; the recovery phase is cut into seconds (by when each request was due) to find
 * when the tail is back to what it was before.
 */
async function runOverloadJob(job: LoadJob, o: NonNullable<LoadJob['overload']>): Promise<LoadResult> {
  const baseline = await pacedPhase(job, o.lightRate, o.baselineSeconds, job.connections);
  process.send!({ type: 'measuring' } satisfies LoadMessage);
  const refused = new Latencies();
  const acceptedFromSent = new Latencies();
  const refusedFromSent = new Latencies();
  const acceptedBySecond = Array.from({ length: Math.ceil(job.durationSeconds) }, () => new Latencies(1 << 12));
  let withRetryAfter = 0;
  const overload = await pacedPhase(job, o.rate, job.durationSeconds, o.connections, (ms, status, dueMs, head, lateMs) => {
    if (status >= 200 && status < 300) {
      acceptedFromSent.add(ms - lateMs);
      acceptedBySecond[secondOf(dueMs, acceptedBySecond.length)].add(ms);
    }
    if (status !== 503) return;
    refusedFromSent.add(ms - lateMs);
    refused.add(ms);
    if (/\r\nretry-after:/i.test(head)) withRetryAfter++;
  });
  process.send!({ type: 'measured' } satisfies LoadMessage);
  const seconds = Math.ceil(o.recoverySeconds);
  const buckets = Array.from({ length: seconds }, () => ({ latencies: new Latencies(1 << 12), bad: 0 }));
  await pacedPhase(job, o.lightRate, o.recoverySeconds, job.connections, (ms, status, dueMs) => {
    const b = buckets[secondOf(dueMs, seconds)];
    if (status >= 200 && status < 300) b.latencies.add(ms); else b.bad++;
  });
  const recoveryP99 = buckets.map((b) => (b.bad > 0 ? Infinity : b.latencies.summary().p99));
  const bound = Math.max(2 * baseline.latency.p99, baseline.latency.p99 + 5);
  let recovered = NaN;
  for (let k = recoveryP99.length - 1; k >= 0 && recoveryP99[k] <= bound; k--) recovered = k;
  return {
    ...overload,
    overload: {
      baseline: baseline.latency,
      refused: refused.summary(),
      refusedCount: overload.statusCodes['503'] ?? 0,
      withRetryAfter,
      fromSent: { accepted: acceptedFromSent.summary(), refused: refusedFromSent.summary() },
      acceptedP99BySecond: acceptedBySecond.map((l) => l.summary().p99),
      recoveryP99,
      recoveredAfterSeconds: recovered,
      recoveryBoundMs: bound,
    },
  };
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  if (job.overload) return runOverloadJob(job, job.overload);
  const { pacedRate } = job;
  if (pacedRate) return warmedUp(job, (seconds) => pacedPhase(job, pacedRate, seconds, job.connections));
  if (WORKLOADS[job.workload].honoursRetryAfter) return warmedUp(job, (seconds) => closedPhase(job, seconds));
  const warmup = job.warmupSeconds > 0 ? await cannon(job, job.warmupSeconds) : undefined;
  process.send!({ type: 'measuring' } satisfies LoadMessage);
  const latencies = new Latencies();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await cannon(job, job.durationSeconds, latencies);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count]));
  return {
    durationSeconds: result.duration,
    requests: result.requests.total,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latency: latencies.summary(),
    warmupOk: warmup?.['2xx'] ?? 0,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / seconds,
  };
}

process.once('message', (job: LoadJob) => {
  runJob(job).then(
    (result) => process.send!({ type: 'result', result } satisfies LoadMessage, () => process.exit(0)),
    (error: Error) => process.send!({ type: 'error', message: error.stack ?? error.message } satisfies LoadMessage, () => process.exit(1)),
  );
});
