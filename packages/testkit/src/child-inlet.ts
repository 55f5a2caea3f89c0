// `inlet serve` and `inlet process` as child processes, started the way an operator starts them
// (packages/server/bin/inlet.js), for tests and drills that kill, stop or starve them. A server is
// ready once it answers GET /v1/ping; nothing here depends on what the start banner prints.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

export const INLET_BIN = resolve(import.meta.dirname, '../../server/bin/inlet.js');

/** Backends a child would otherwise pick up from the caller's environment. */
const BACKENDS_OFF = { KAFKA_BROKERS: '', DATABASE_URL: '', REDIS_URL: '' };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface InletChild {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far (the last 64 KB of each), for failure messages */
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  running(): boolean;
  /** sends the signal (SIGKILL by default) and resolves once the process is gone */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
}

export interface ServeChild extends InletChild {
  url: string;
  port: number;
}

function track(child: ChildProcess): InletChild {
  let stdout = '';
  let stderr = '';
  const keep = (text: string, chunk: Buffer) => (text + chunk.toString()).slice(-65_536);
  child.stdout?.on('data', (chunk: Buffer) => { stdout = keep(stdout, chunk); });
  child.stderr?.on('data', (chunk: Buffer) => { stderr = keep(stderr, chunk); });
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((done) => child.once('exit', (code, signal) => done((exit = { code, signal }))));
  return {
    child,
    pid: child.pid!,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    running: () => exit === undefined,
    async kill(signal = 'SIGKILL') {
      if (exit) return exit;
      child.kill(signal);
      return exited;
    },
  };
}

/** The environment for a child: the caller's, backends off, then `env`. */
function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { ...process.env, ...BACKENDS_OFF, LOG_LEVEL: 'warn', ...env };
}

async function pingable(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v1/ping`, { signal: AbortSignal.timeout(1000) });
    return response.status === 204;
  } catch {
    return false;
  }
}

export interface ServeOptions {
  /** settings as environment variables (INLET_DATA_DIR, KAFKA_BROKERS, ...); PORT and HOST are set here */
  env?: Record<string, string | undefined>;
  /** default: a free port */
  port?: number;
  /** node flags before the script (e.g. --max-old-space-size) */
  nodeArgs?: string[];
  startTimeoutMs?: number;
}

/**
 * `inlet serve` on 127.0.0.1, resolved once it answers /v1/ping. Its admin listener (when the
 * server has one) gets a free port of its own, so several children never contend for 8081.
 */
export async function spawnServe(options: ServeOptions = {}): Promise<ServeChild> {
  const port = options.port ?? (await freePort());
  // The flag and the allocator setting bin/inlet.js starts with (its shebang), which a spawn of `node` skips.
  const env = childEnv({ MALLOC_MMAP_THRESHOLD_: '131072', ADMIN_PORT: String(await freePort()), ...options.env, PORT: String(port), HOST: '127.0.0.1' });
  const child = spawn(process.execPath, ['--max-semi-space-size=64', ...(options.nodeArgs ?? []), INLET_BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tracked = track(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (!(await pingable(url))) {
    if (!tracked.running()) {
      const { code, signal } = await tracked.exited;
      throw new Error(`inlet serve exited (${code ?? signal}) before answering /v1/ping: ${tracked.stderr().trim().slice(-2000)}`);
    }
    if (Date.now() > deadline) {
      await tracked.kill('SIGKILL');
      throw new Error(`inlet serve did not answer /v1/ping on ${url} within ${options.startTimeoutMs ?? 60_000} ms: ${tracked.stderr().trim().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ...tracked, url, port };
}

/** `inlet process` (the deduplicating processor) with these flags; not waited for. */
export function spawnProcess(args: string[], env: Record<string, string | undefined> = {}): InletChild {
  const child = spawn(process.execPath, [INLET_BIN, 'process', ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  return track(child);
}

const execInlet = promisify(execFile);

/** Runs one `inlet` command (sources, topics, ...) with these settings; its stdout. Rejects on a non-zero exit. */
export async function inletCli(args: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const { stdout } = await execInlet(process.execPath, [INLET_BIN, ...args], { env: childEnv(env), timeout: 60_000 });
  return stdout;
}

/**
 * Creates a source with `inlet sources create --json` in the store the settings name (the embedded
 * one in INLET_DATA_DIR, or DATABASE_URL) and returns it, write key included.
 */
export async function createSourceWithCli(env: Record<string, string | undefined>, name: string): Promise<{ id: string; writeKey: string; name: string }> {
  const stdout = await inletCli(['sources', 'create', '--name', name, '--json'], env);
  const source = JSON.parse(stdout.trim().split('\n').pop()!) as { id: string; writeKey: string; name: string };
  if (typeof source.writeKey !== 'string') throw new Error(`inlet sources create printed no write key: ${stdout}`);
  return source;
}
