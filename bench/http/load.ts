// The load generator: runs in its own process (forked by the harness) so it never shares an event
// loop with the server under test. It receives one LoadJob over IPC, runs autocannon for the
// warm-up and then for the measured window, and sends back a LoadResult.
import autocannon from 'autocannon';
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
}

export type LoadMessage = { type: 'measuring' } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

/** Response times in a growing typed array: a 15 s run at tens of thousands of req/s fits easily. */
class Latencies {
  private values = new Float64Array(1 << 16);
  private count = 0;

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
    requests: [{ setupRequest: (request) => ({ ...request, body: template.render() }) }],
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
  return () => {
    const body = Buffer.from(template.render());
    const head = `POST ${WORKLOADS[job.workload].path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAuthorization: Basic ${auth}\r\nContent-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), body]);
  };
}

async function runPacedJob(job: LoadJob, rate: number): Promise<LoadResult> {
  const url = new URL(job.url);
  const request = rawRequest(job);
  const common = { host: url.hostname, port: Number(url.port), rate, connections: job.connections, request };
  let warmupOk = 0;
  if (job.warmupSeconds > 0) {
    await runPaced({ ...common, seconds: job.warmupSeconds, onResponse: (_ms, status) => { if (status < 300) warmupOk++; } });
  }
  process.send!({ type: 'measuring' } satisfies LoadMessage);
  const latencies = new Latencies();
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  const cpuBefore = process.cpuUsage();
  const result = await runPaced({
    ...common,
    seconds: job.durationSeconds,
    onResponse: (ms, status) => {
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
      if (status >= 200 && status < 300) { ok++; latencies.add(ms); }
    },
  });
  const cpu = process.cpuUsage(cpuBefore);
  return {
    durationSeconds: result.seconds,
    requests: result.completed,
    ok,
    non2xx: result.completed - ok,
    errors: result.errors,
    // requests that were due but never got a connection: the server fell behind the rate
    timeouts: result.backlog,
    statusCodes,
    latency: latencies.summary(),
    warmupOk,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / result.seconds,
  };
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  if (job.pacedRate) return runPacedJob(job, job.pacedRate);
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
