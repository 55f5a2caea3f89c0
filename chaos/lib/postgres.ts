// A database of the drill's own on the shared PostgreSQL (dropped afterwards), reached through a
// TCP relay the drill can cut: PostgreSQL "goes down" for this server only, and the relay counts
// the queries the server makes.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { needPostgres, TcpRelay } from '@inlet/testkit';
import type { DrillContext } from './drill.ts';

export interface DrillDatabase {
  /** the database through the relay: what the server gets as DATABASE_URL */
  url: string;
  relay: TcpRelay;
}

export async function drillDatabase(ctx: DrillContext): Promise<DrillDatabase> {
  const shared = (await needPostgres()).value;
  if (!shared) throw new Error('PostgreSQL is not available');
  const name = `inlet_chaos_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: shared });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  ctx.defer(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const target = new URL(shared);
  const relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) }, { postgres: true });
  ctx.defer(() => relay.close());
  const url = new URL(shared);
  url.port = String(relay.port);
  url.pathname = `/${name}`;
  return { url: url.href, relay };
}

export interface Reply {
  status: number | string;
  retryAfter: string | null;
  ms: number;
}

/** One small event with this write key; the status (or the error code) and how long it took. */
export async function postOne(url: string, writeKey: string, messageId: string, timeoutMs = 15_000): Promise<Reply> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'probe', event: 'Probe', messageId }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return { status: response.status, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started };
  } catch (error) {
    return { status: (error as { name?: string }).name === 'TimeoutError' ? 'timeout' : 'error', retryAfter: null, ms: performance.now() - started };
  }
}
