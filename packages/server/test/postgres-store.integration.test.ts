import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { needPostgres } from '@inlet/testkit';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { SourceStoreUnavailableError } from '../src/errors.ts';
import type { Source, SourceWithKey } from '../src/sources/source-store.ts';
import { hashWriteKey } from '../src/sources/keys.ts';
import { dropSchemas } from './pg-schemas.ts';

const postgres = await needPostgres();
/** A source as the store finds it: the key comes only with what made it. */
const found = ({ writeKey: _shownOnce, ...source }: SourceWithKey): Source => source;
const schema = `inlet_test_${randomBytes(6).toString('hex')}`;

/** Fails (instead of hanging) when a call takes longer than a generous bound. */
async function bounded<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PostgresSourceStore on a real PostgreSQL', { skip: postgres.skip }, () => {
  const stores: PostgresSourceStore[] = [];
  const open = async () => {
    const store = await PostgresSourceStore.open({ connectionString: postgres.value!, schema });
    stores.push(store);
    return store;
  };
  let a: PostgresSourceStore;

  before(async () => {
    a = await open();
  });

  after(async () => {
    for (const store of stores) await store.close();
    if (postgres.value) {
      await dropSchemas(postgres.value, schema);
    }
  });

  test('create, find by write key, list and revoke', async () => {
    const web = await a.create({ name: 'web' });
    assert.match(web.id, /^src_/);
    assert.match(web.writeKey, /^wk_/);
    assert.equal(web.name, 'web');
    assert.equal(web.ipPolicy, 'full');
    assert.equal(web.revokedAt, null);
    assert.ok(!Number.isNaN(Date.parse(web.createdAt)));
    const backend = await a.create({ name: 'backend', ipPolicy: 'drop' });
    assert.equal(backend.ipPolicy, 'drop');

    assert.deepEqual(await a.findByKeyHash(hashWriteKey(web.writeKey)), found(web));
    assert.equal(await a.findByKeyHash(hashWriteKey('wk_nope')), undefined);
    const listed = await a.list();
    assert.deepEqual(listed.filter((s) => s.id === web.id || s.id === backend.id), [found(web), found(backend)]);

    assert.equal(await a.revoke(web.id), true);
    assert.equal(await a.revoke(web.id), false, 'already revoked');
    assert.equal(await a.revoke('src_missing'), false);
    const revoked = await a.findByKeyHash(hashWriteKey(web.writeKey));
    assert.ok(revoked?.revokedAt && !Number.isNaN(Date.parse(revoked.revokedAt)));
    assert.equal((await a.findByKeyHash(hashWriteKey(backend.writeKey)))?.revokedAt, null);
  });

  test('bad input is refused, by the store and by the table', async () => {
    await assert.rejects(a.create({ name: '' }), /non-empty/);
    await assert.rejects(a.create({ name: 'x', ipPolicy: 'everything' as never }), /ipPolicy must be one of/);
    const client = new pg.Client({ connectionString: postgres.value });
    await client.connect();
    try {
      await assert.rejects(client.query(`INSERT INTO "${schema}".inlet_sources (id, name, key_hash, ip_policy) VALUES ('src_x', 'x', 'h', 'everything')`), /check constraint/);
    } finally {
      await client.end();
    }
  });

  test('the migration is idempotent, also when instances start together', async () => {
    const before = await a.list();
    await a.migrate();
    const [b, c] = await Promise.all([open(), open()]);
    await Promise.all([b.migrate(), c.migrate()]);
    assert.deepEqual(await b.list(), before);
  });

  test('two store instances see each other\'s sources', async () => {
    const b = await open();
    const made = await a.create({ name: 'from-a', ipPolicy: 'anonymize' });
    assert.deepEqual(await b.findByKeyHash(hashWriteKey(made.writeKey)), found(made));
    assert.equal(await b.revoke(made.id), true);
    assert.notEqual((await a.findByKeyHash(hashWriteKey(made.writeKey)))?.revokedAt, null);
    assert.equal(await a.ready(), true);
  });

  test('an unreachable database: SourceStoreUnavailableError within the bound, ready() false', async () => {
    const url = new URL(postgres.value!);
    url.port = '1';
    url.password = 'secret';
    await assert.rejects(bounded(PostgresSourceStore.open({ connectionString: url.href, schema })), SourceStoreUnavailableError);
    const store = new PostgresSourceStore({ connectionString: url.href, schema });
    stores.push(store);
    const calls: (() => Promise<unknown>)[] = [() => store.findByKeyHash(hashWriteKey('wk_x')), () => store.create({ name: 'x' }), () => store.list(), () => store.revoke('src_x')];
    for (const call of calls) {
      const error = await bounded(call()).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof SourceStoreUnavailableError, String(error));
      assert.match(error.message, /127\.0\.0\.1:1/);
      assert.doesNotMatch(error.message, /secret/);
    }
    assert.equal(await bounded(store.ready()), false);
  });

  test('a database that accepts the connection and never answers: unavailable within the bound', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => { sockets.add(socket); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const store = new PostgresSourceStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/test`, connectTimeoutMs: 300 });
      stores.push(store);
      await assert.rejects(bounded(store.findByKeyHash(hashWriteKey('wk_x'))), SourceStoreUnavailableError);
      assert.equal(await bounded(store.ready()), false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a query stuck longer than queryTimeoutMs: unavailable, not a hang', async () => {
    const store = await PostgresSourceStore.open({ connectionString: postgres.value!, schema, queryTimeoutMs: 200 });
    stores.push(store);
    // Another session holds the table locked, so the lookup waits until its bound.
    const locker = new pg.Client({ connectionString: postgres.value });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${schema}".inlet_sources IN ACCESS EXCLUSIVE MODE`);
      await assert.rejects(bounded(store.findByKeyHash(hashWriteKey('wk_x'))), SourceStoreUnavailableError);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    assert.equal(await store.findByKeyHash(hashWriteKey('wk_x')), undefined);
  });

  test('a closed store refuses calls as unavailable', async () => {
    const store = await open();
    await store.close();
    await assert.rejects(store.list(), SourceStoreUnavailableError);
    assert.equal(await store.ready(), false);
  });

  test('bad options are refused at construction', () => {
    assert.throws(() => new PostgresSourceStore({ connectionString: 'mysql://x' }), /postgres:\/\//);
    assert.throws(() => new PostgresSourceStore({ connectionString: postgres.value!, schema: 'a; drop table x' }), /plain identifier/);
    assert.throws(() => new PostgresSourceStore({ connectionString: postgres.value!, queryTimeoutMs: 0 }), /queryTimeoutMs/);
  });
});

describe('the default source on a shared, empty PostgreSQL', { skip: postgres.skip }, () => {
  const fresh = `inlet_test_${randomBytes(6).toString('hex')}`;

  test('instances starting together end up with one active default source', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => PostgresSourceStore.open({ connectionString: postgres.value!, schema: fresh })));
    try {
      const defaults = await Promise.all(stores.map((store) => store.ensureDefault()));
      assert.ok(defaults[0]);
      assert.deepEqual(new Set(defaults.map((d) => d?.id)), new Set([defaults[0].id]), 'every instance got the same source');
      const active = (await stores[0].list()).filter((s) => s.name === 'default' && !s.revokedAt);
      assert.deepEqual(active.map((s) => s.id), [defaults[0].id]);
    } finally {
      for (const store of stores) await store.close();
      await dropSchemas(postgres.value, fresh);
    }
  });
});
