// `inlet serve` as a child process (the way it runs in production) and a load of concurrent
// clients (testkit's), for the crash and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startLoad as startHttpLoad, type Load } from '@inlet/testkit';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

export { freePort, type Load } from '@inlet/testkit';

export interface ChildInlet {
  child: ChildProcess;
  url: string;
  writeKey: string;
  adminUrl: string;
  /** the admin token when the banner showed one (first start only) */
  adminToken: string | undefined;
  /** everything the child wrote to stdout */
  stdout(): string;
  /** everything the child wrote to stderr, for failure messages */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The default source's key per data directory, from its first start's banner: later starts show none. */
const firstKeys = new Map<string, string>();

export async function spawnInlet(dataDir: string, port: number, env: Record<string, string> = {}): Promise<ChildInlet> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ADMIN_PORT: '0', INLET_DATA_DIR: dataDir, LOG_LEVEL: 'warn', KAFKA_BROKERS: '', DATABASE_URL: '', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const writeKey = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`inlet serve did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      // The banner is written at once: when its first line is there, so is the rest.
      if (!/Inlet is listening/.test(stdout)) return;
      const shown = /Write key of the "default" source: (wk_\S+)/.exec(stdout)?.[1];
      if (shown) firstKeys.set(dataDir, shown);
      const key = firstKeys.get(dataDir);
      clearTimeout(timer);
      if (key) done(key);
      else fail(new Error(`inlet serve in ${dataDir} showed no write key and none is known from a first start: ${stdout}`));
    });
    void exited.then(({ code, signal }) => { clearTimeout(timer); fail(new Error(`inlet serve exited (${code ?? signal}) before listening: ${stderr}`)); });
  });
  const adminUrl = /Admin API and \/metrics on (\S+)/.exec(stdout)?.[1] ?? '';
  const adminToken = /Admin token[^\n]*: (\S+)/.exec(stdout)?.[1];
  return { child, url: `http://127.0.0.1:${port}`, writeKey, adminUrl, adminToken, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `clients` loops, each posting batches of its own messageIds back to back until stopped. */
export function startLoad(url: string, writeKey: string, clients: number, batchSize: number): Load {
  return startHttpLoad({ url, writeKey, clients, batchSize });
}
