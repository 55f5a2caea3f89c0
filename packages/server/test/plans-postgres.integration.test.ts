// Tracking plans shared through PostgreSQL: two instances on one database, a plan put on either
// is applied by both within 5 seconds, without a restart; versions stay consecutive under
// concurrent puts; the table comes with the store's migration, on a new database or an old one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { needPostgres } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import { configWith, readStoredEvents, startServer, type RunningServer } from '../src/index.ts';
import type { PlanVersion } from '../src/plans/plan-store.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { adminRequest, postJson, request } from './http-client.ts';
import { dropSchemas } from './pg-schemas.ts';

const postgres = await needPostgres();
const schema = `inlet_test_${randomBytes(6).toString('hex')}`;

const PLAN = {
  unplanned: 'flag',
  events: { 'Order Completed': { properties: { type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' } } } } },
};

describe('plans shared through PostgreSQL', { skip: postgres.skip }, () => {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];
  // Each server's data directory (the two start concurrently: their order in `servers` is not
  // the order of `dirs`).
  const dataDirOf = new Map<RunningServer, string>();
  let a: RunningServer;
  let b: RunningServer;
  let token: string;

  async function instance(): Promise<RunningServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-plans-pg-'));
    dirs.push(dataDir);
    const config = configWith({ port: 0, host: '127.0.0.1', admin: { host: '127.0.0.1', port: 0 }, dataDir, logLevel: 'silent', databaseUrl: postgres.value });
    // Sources (and their plans) on this run's own schema.
    const sources = await PostgresSourceStore.open({ connectionString: postgres.value!, schema, logger: { warn: () => {} } });
    const server = await startServer(config, { sources });
    servers.push(server);
    dataDirOf.set(server, dataDir);
    return server;
  }

  before(async () => {
    [a, b] = await Promise.all([instance(), instance()]);
    token = (a.adminToken ?? b.adminToken)!;
  });

  after(async () => {
    for (const server of servers) await server.close().catch(() => {});
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await dropSchemas(postgres.value, schema);
  });

  const putOn = (server: RunningServer, sourceId: string, plan: unknown) =>
    request(server.admin.url, `/api/sources/${sourceId}/plan`, { method: 'PUT', body: JSON.stringify(plan), headers: { authorization: `Bearer ${token}` } });

  /** The plan version `server` checked an event against (undefined: not checked). */
  async function versionOn(server: RunningServer, writeKey: string): Promise<number | undefined> {
    const messageId = randomUUID();
    // It passes every version of PLAN: a blocking one must not keep it from being stored.
    const reply = await postJson(server.url, '/v1/track', { userId: 'u', event: 'Order Completed', properties: { orderId: 'o-1' }, messageId }, writeKey);
    assert.equal(reply.status, 200, reply.text);
    // Each instance stores in its own embedded store.
    const record = readStoredEvents(dataDirOf.get(server)!, 0, 1_000_000).map((r) => r.record).find((r: NormalizedRecord) => r.messageId === messageId)!;
    return (record.context.inlet as { plan?: { version: number } } | undefined)?.plan?.version;
  }

  /** How long until `server` checks events against `version` (fails past 5 s). */
  async function appliedWithin5s(server: RunningServer, writeKey: string, version: number | undefined): Promise<number> {
    const started = Date.now();
    let seen = await versionOn(server, writeKey);
    while (seen !== version && Date.now() - started < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await versionOn(server, writeKey);
    }
    assert.equal(seen, version, `applied within 5 s on ${server.url}`);
    return Date.now() - started;
  }

  test('a plan put on one instance is applied by the other within 5 s; so are a new version and a deletion made on the other', async () => {
    const source = await a.sources.create({ name: `pg-plans-${randomUUID()}` });
    assert.equal(await versionOn(b, source.writeKey), undefined);

    let reply = await putOn(a, source.id, PLAN);
    assert.equal(reply.status, 201, reply.text);
    assert.equal(await versionOn(a, source.writeKey), 1, 'the instance that took the put applies it at once');
    await appliedWithin5s(b, source.writeKey, 1);

    reply = await putOn(b, source.id, { ...PLAN, violations: 'block' });
    assert.equal((reply.json!.plan as PlanVersion).version, 2);
    await appliedWithin5s(a, source.writeKey, 2);

    const deleted = await adminRequest(a.admin.url, token, `/api/sources/${source.id}/plan`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, deleted.text);
    await appliedWithin5s(b, source.writeKey, undefined);

    const history = await adminRequest(b.admin.url, token, `/api/sources/${source.id}/plan/history`);
    assert.deepEqual((history.json!.versions as PlanVersion[]).map((v) => [v.version, v.deleted]), [[3, true], [2, false], [1, false]]);
  });

  test('concurrent puts on both instances get consecutive versions, none lost', async () => {
    const source = await a.sources.create({ name: `pg-plans-${randomUUID()}` });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => putOn(i % 2 ? a : b, source.id, { ...PLAN, description: `put ${i}` })));
    assert.ok(replies.every((r) => r.status === 201), replies.map((r) => r.text).join('\n'));
    assert.deepEqual(replies.map((r) => (r.json!.plan as PlanVersion).version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const heads = await a.sources.plans.heads();
    assert.equal(heads.get(source.id), 10);
  });

  test('the plans table comes with the migration: on a database an older Inlet made, and run by many at once', async () => {
    const client = new pg.Client({ connectionString: postgres.value });
    await client.connect();
    try {
      await client.query(`DROP TABLE "${schema}".inlet_plans`);
      const stores = await Promise.all(Array.from({ length: 3 }, () => PostgresSourceStore.open({ connectionString: postgres.value!, schema, logger: { warn: () => {} } })));
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = $2', [schema, 'inlet_plans']);
      assert.equal(rows[0].n, 1);
      const source = await stores[0].create({ name: `pg-plans-${randomUUID()}` });
      await stores[1].plans.put(source.id, { unplanned: 'allow', violations: 'flag', events: {} }, '{"unplanned":"allow","violations":"flag","events":{}}');
      assert.equal((await stores[2].plans.get(source.id))?.version, 1);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await client.end();
    }
  });
});
