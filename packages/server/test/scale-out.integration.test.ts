// Several server instances sharing Redis (rate limits) and PostgreSQL (sources), the way Inlet
// scales out. Each instance keeps its events in its own embedded store; the sink is not the point.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needPostgres, needRedis, TcpRelay } from '@inlet/testkit';
import { configWith, startServer, type Config, type RunningServer } from '../src/index.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { dropSchemas } from './pg-schemas.ts';

const redis = await needRedis();
const postgres = await needPostgres();
const skip = redis.skip || postgres.skip;
const schema = `inlet_test_${randomBytes(6).toString('hex')}`;

interface Reply {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function track(server: RunningServer, writeKey: string): Promise<Reply> {
  const response = await fetch(`${server.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ writeKey, userId: 'u1', event: 'Scaled Out', messageId: randomUUID() }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: text ? JSON.parse(text) : {} };
}

describe('scale-out: instances sharing Redis and PostgreSQL', { skip }, () => {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];

  async function instance(overrides: Partial<Config>, connectionString = postgres.value!): Promise<RunningServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-scale-out-'));
    dirs.push(dataDir);
    const config = configWith({ port: 0, host: '127.0.0.1', admin: { host: '127.0.0.1', port: 0 }, dataDir, logLevel: 'silent', redisUrl: redis.value, databaseUrl: connectionString, ...overrides });
    // Sources come from a store on this run's own schema (the config path would use `public`).
    const sources = await PostgresSourceStore.open({ connectionString, schema, logger: { warn: () => {} } });
    const server = await startServer(config, { sources });
    servers.push(server);
    return server;
  }

  let a: RunningServer;
  let b: RunningServer;
  const budget = 5;

  before(async () => {
    a = await instance({ rateLimit: { requestsPerMinute: budget, eventsPerMinute: 1_000_000, addressPercent: 100 } });
    b = await instance({ rateLimit: { requestsPerMinute: budget, eventsPerMinute: 1_000_000, addressPercent: 100 } });
  });

  after(async () => {
    for (const server of servers) await server.close().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    if (postgres.value) {
      await dropSchemas(postgres.value, schema);
    }
  });

  test('two instances on one Redis together allow the budget of one, not two', async () => {
    // A fresh source: its rate-limit key is new in Redis on every run.
    const source = await a.sources.create({ name: 'rate-limited' });
    const replies = await Promise.all(Array.from({ length: budget * 2 + 2 }, (_, i) => track(i % 2 ? a : b, source.writeKey)));
    const ok = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status === 429);
    assert.equal(ok.length, budget, JSON.stringify(replies.map((r) => r.status)));
    assert.equal(limited.length, budget + 2);
    for (const r of limited) {
      assert.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 60, `Retry-After ${r.retryAfter}`);
      assert.equal(r.body.code, 'INLET_RATE_LIMITED');
    }
    // The budget is spent for both instances, not just the one that counted it.
    assert.equal((await track(a, source.writeKey)).status, 429);
    assert.equal((await track(b, source.writeKey)).status, 429);
  });

  test('a source created through instance A authenticates on instance B', async () => {
    const source = await a.sources.create({ name: 'made-on-a' });
    const reply = await track(b, source.writeKey);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.accepted, 1);
    assert.equal((await track(b, `wk_${randomBytes(12).toString('base64url')}`)).status, 401);
  });

  test('PostgreSQL unreachable: a cached key keeps working (and so the instance stays ready), an uncached key gets 503 (not 401)', async () => {
    const target = new URL(postgres.value!);
    const relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const viaRelay = new URL(postgres.value!);
      viaRelay.port = String(relay.port);
      const c = await instance({}, viaRelay.href);
      const cached = await c.sources.create({ name: 'cached' });
      const uncached = await c.sources.create({ name: 'uncached' });
      assert.equal((await track(c, cached.writeKey)).status, 200);

      await relay.cut();
      const stillWorks = await track(c, cached.writeKey);
      assert.equal(stillWorks.status, 200, JSON.stringify(stillWorks.body));
      for (const key of [uncached.writeKey, `wk_${randomBytes(12).toString('base64url')}`]) {
        const reply = await track(c, key);
        assert.equal(reply.status, 503, JSON.stringify(reply.body));
        assert.ok(Number(reply.retryAfter) >= 1, `Retry-After ${reply.retryAfter}`);
      }
      // Every instance shares the database: ready still, on the key it serves, and saying why.
      const health = await fetch(`${c.url}/health/ready`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(health.status, 200);
      assert.deepEqual(((await health.json()) as { sources: unknown }).sources, { kind: 'postgres', ready: false, servingCachedKeys: true });

      // The database returns: the key that could not be checked now works.
      await relay.heal();
      assert.equal((await track(c, uncached.writeKey)).status, 200);
    } finally {
      await relay.close();
    }
  });
});
