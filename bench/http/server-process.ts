// Starts one server under test as a child process and waits until it serves.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LaunchSpec } from './servers.ts';

export interface ServerProcess {
  pid: number;
  url: string;
  writeKey: string;
  /** what it printed to stdout up to its ready line */
  banner: string[];
  /** the last lines the server wrote to stderr, for failure reports */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone */
  stop(graceMs?: number): Promise<void>;
}

/** Settings the harness decides per server; inherited values would silently change what runs. */
const CONTROLLED_ENV = [
  'PORT', 'HOST', 'INLET_DATA_DIR', 'LOG_LEVEL', 'KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_FAILED_TOPIC', 'REDIS_URL', 'DATABASE_URL',
  'RATE_LIMIT_REQUESTS_PER_MINUTE', 'RATE_LIMIT_EVENTS_PER_MINUTE', 'NODE_OPTIONS', 'SINK_TIMEOUT_MS',
  'KAFKA_COMPRESSION', 'KAFKA_LINGER_MS', 'INLET_BENCH_KAFKA_SEND_MODE',
  'ADMIN_HOST', 'ADMIN_PORT', 'METRICS_ON_PUBLIC_PORT', 'SINK_MAX_QUEUE_MS', 'FAILED_RETENTION_DAYS', 'FAILED_MAX_BYTES',
];

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of CONTROLLED_ENV) delete env[name];
  return { ...env, ...extra };
}

/**
 * A stdout line and what it stands for. Inlet with stdout a pipe logs JSON only, and its first
 * start puts what a terminal would have shown (addresses, the admin token, the write key) in a file
 * the log names: that file's lines are read as the banner's. Other lines stand for themselves.
 */
export function bannerLines(line: string): string[] {
  if (!line.startsWith('{')) return [line];
  try {
    const { msg, secretsFile } = JSON.parse(line) as { msg?: unknown; secretsFile?: unknown };
    if (typeof secretsFile === 'string' && String(msg).startsWith('first start:')) return [line, ...readFileSync(secretsFile, 'utf8').split('\n')];
  } catch { /* not JSON after all, or the file is gone: the line alone */ }
  return [line];
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

async function pollReady(url: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 2xx in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startServerProcess(
  spec: LaunchSpec,
  options: { port: number; nodeFlags?: string[]; startTimeoutMs?: number },
): Promise<ServerProcess> {
  const child = spawn(spec.node ?? process.execPath, [...(options.nodeFlags ?? []), ...spec.args], {
    env: cleanEnv(spec.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 40) stderr.shift();
  });
  const stderrTail = () => stderr.join('\n');
  const stop = async (graceMs = 20_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited(child);
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  try {
    const banner: string[] = [];
    const writeKey = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error('no ready line before the start timeout')), deadline - Date.now());
      lines.on('line', (printed) => {
        for (const line of bannerLines(printed)) {
          if (banner.length < 50) banner.push(line);
          const match = spec.ready.exec(line);
          if (match) { clearTimeout(timer); resolve(match[1] ?? spec.writeKey); }
        }
      });
      child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`exited during start (code ${code}, signal ${signal})`)); });
    });
    const url = `http://127.0.0.1:${options.port}`;
    await pollReady(url + spec.readyPath, deadline);
    return { pid: child.pid!, url, writeKey, banner, stderrTail, stop };
  } catch (error) {
    await stop(2000);
    throw new Error(`${(error as Error).message}\n${stderrTail()}`);
  }
}
