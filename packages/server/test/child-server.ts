// `inlet serve` as a child process (the way it runs in production) and a load of concurrent
// clients (testkit's), for the crash and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startLoad as startHttpLoad, type Load } from '@inlet/testkit';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

export { freePort, type Load } from '@inlet/testkit';

export interface ChildInlet {
  child: ChildProcess;
  url: string;
  writeKey: string;
  adminUrl: string;
  /** the admin token when this start made one (first start only), read from the first-start file */
  adminToken: string | undefined;
  /** the log line saying the server listens (url, adminUrl, consoleUrl, sink) */
  listening: Record<string, unknown>;
  /** the first-start file's text, when this start wrote one (its stdout is a pipe, not a terminal) */
  firstStart: string | undefined;
  /** everything the child wrote to stdout */
  stdout(): string;
  /** everything the child wrote to stderr, for failure messages */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The default source's key per data directory, from its first start's file: later starts show none. */
const firstKeys = new Map<string, string>();

/** stdout's complete lines that parse as JSON (pino's log lines; with a pipe for stdout that is every line) */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').slice(0, -1).flatMap((line) => {
    try { return [JSON.parse(line) as Record<string, unknown>]; } catch { return []; }
  });
}

/**
 * `inlet serve` with stdout a pipe, as under Docker or systemd: it logs JSON only (LOG_LEVEL info
 * here, so the line saying it listens is there), and a first start puts its secrets in a file of
 * the data directory whose path it logs.
 */
export async function spawnInlet(dataDir: string, port: number, env: Record<string, string> = {}): Promise<ChildInlet> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ADMIN_PORT: '0', INLET_DATA_DIR: dataDir, LOG_LEVEL: 'info', KAFKA_BROKERS: '', DATABASE_URL: '', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const listening = await new Promise<Record<string, unknown>>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`inlet serve did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      // The first start's line saying where its secrets are comes before this one.
      const line = jsonLines(stdout).find((l) => typeof l.msg === 'string' && l.msg.startsWith('Inlet is listening'));
      if (!line) return;
      clearTimeout(timer);
      done(line);
    });
    void exited.then(({ code, signal }) => { clearTimeout(timer); fail(new Error(`inlet serve exited (${code ?? signal}) before listening: ${stderr}`)); });
  });
  const secretsFile = jsonLines(stdout).find((l) => typeof l.secretsFile === 'string' && /^first start: /.test(String(l.msg)))?.secretsFile as string | undefined;
  const firstStart = secretsFile === undefined ? undefined : readFileSync(secretsFile, 'utf8');
  const shown = /Write key of the "default" source: (wk_\S+)/.exec(firstStart ?? '')?.[1];
  if (shown) firstKeys.set(dataDir, shown);
  const writeKey = firstKeys.get(dataDir);
  if (!writeKey) {
    child.kill('SIGKILL');
    throw new Error(`inlet serve in ${dataDir} gave no write key and none is known from a first start: ${stdout}`);
  }
  const adminToken = /Admin token[^\n]*: (\S+)/.exec(firstStart ?? '')?.[1];
  return { child, url: `http://127.0.0.1:${port}`, writeKey, adminUrl: String(listening.adminUrl), adminToken, listening, firstStart, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `clients` loops, each posting batches of its own messageIds back to back until stopped. */
export function startLoad(url: string, writeKey: string, clients: number, batchSize: number): Load {
  return startHttpLoad({ url, writeKey, clients, batchSize });
}
