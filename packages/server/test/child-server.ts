// `inlet serve` as a child process (the way it runs in production) and a load of concurrent
// clients, for the crash and shutdown tests.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

export { freePort } from '@inlet/testkit';

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

export async function spawnInlet(dataDir: string, port: number): Promise<ChildInlet> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ADMIN_PORT: '0', INLET_DATA_DIR: dataDir, LOG_LEVEL: 'warn', KAFKA_BROKERS: '', DATABASE_URL: '', REDIS_URL: '' },
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
      const match = /Write key of the "default" source: (\S+)/.exec(stdout);
      if (match) { clearTimeout(timer); done(match[1]); }
    });
    void exited.then(({ code, signal }) => { clearTimeout(timer); fail(new Error(`inlet serve exited (${code ?? signal}) before listening: ${stderr}`)); });
  });
  const adminUrl = /Admin API and \/metrics on (\S+)/.exec(stdout)?.[1] ?? '';
  const adminToken = /Admin token[^\n]*: (\S+)/.exec(stdout)?.[1];
  return { child, url: `http://127.0.0.1:${port}`, writeKey, adminUrl, adminToken, stdout: () => stdout, stderr: () => stderr, exited };
}

export interface Load {
  /** messageIds the server answered 200 for */
  acknowledged: Set<string>;
  /** every messageId sent, answered or not */
  sent: Set<string>;
  statuses: Map<number | string, number>;
  /** stop sending; resolves when every client's last request has settled */
  stop(): Promise<void>;
}

function postBatch(agent: http.Agent, url: string, writeKey: string, body: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = http.request(`${url}/v1/batch`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** `clients` loops, each posting batches of its own messageIds back to back until stopped. */
export function startLoad(url: string, writeKey: string, clients: number, batchSize: number): Load {
  const acknowledged = new Set<string>();
  const sent = new Set<string>();
  const statuses = new Map<number | string, number>();
  let running = true;
  const count = (key: number | string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  const loops = Array.from({ length: clients }, async (_, client) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let seq = 0; running; seq++) {
      const ids = Array.from({ length: batchSize }, (_, i) => `c${client}-b${seq}-e${i}`);
      for (const id of ids) sent.add(id);
      const body = JSON.stringify({ batch: ids.map((messageId) => ({ type: 'track', userId: `user-${client}`, event: 'Load', messageId })) });
      try {
        const status = await postBatch(agent, url, writeKey, body);
        count(status);
        if (status === 200) for (const id of ids) acknowledged.add(id);
      } catch (error) {
        count((error as { code?: string }).code ?? 'error');
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    agent.destroy();
  });
  return { acknowledged, sent, statuses, stop: async () => { running = false; await Promise.all(loops); } };
}
