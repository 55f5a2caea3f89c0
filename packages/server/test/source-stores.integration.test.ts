// What every source store promises (kind, unique active names, rename) on both backends, and the
// upgrade of a store an older Inlet made: the embedded SQLite file and a PostgreSQL table.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { needPostgres } from '@inlet/testkit';
import { databaseFile } from '../src/db/database.ts';
import { DatabaseGoneError } from '../src/errors.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { InvalidSourceError, SourceNameTakenError, type SourceStore } from '../src/sources/source-store.ts';
import { SqliteSourceStore } from '../src/sources/sqlite-store.ts';
import { hashWriteKey } from '../src/sources/keys.ts';
import { dropSchemas } from './pg-schemas.ts';

const postgres = await needPostgres();
const dirs: string[] = [];
const schemas: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-sources-'));
  dirs.push(dir);
  return dir;
}

function freshSchema(): string {
  const schema = `inlet_test_${randomBytes(6).toString('hex')}`;
  schemas.push(schema);
  return schema;
}

after(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (postgres.value && schemas.length) {
    await dropSchemas(postgres.value, ...schemas);
  }
});

const backends: { name: string; skip: string | false; open: () => Promise<SourceStore> }[] = [
  { name: 'embedded (SQLite)', skip: false, open: async () => new SqliteSourceStore(tempDir()) },
  { name: 'PostgreSQL', skip: postgres.skip, open: () => PostgresSourceStore.open({ connectionString: postgres.value!, schema: freshSchema() }) },
];

for (const backend of backends) {
  describe(`source store contract: ${backend.name}`, { skip: backend.skip }, () => {
    test('sources are listed in the order they were made, several within one millisecond too', async () => {
      const store = await backend.open();
      try {
        const names = Array.from({ length: 30 }, (_, i) => `source ${i}`);
        for (const name of names) await store.create({ name });
        assert.deepEqual((await store.list()).map((s) => s.name), names);
      } finally {
        await store.close();
      }
    });

    test('a source has a kind: browser by default, server when asked; anything else is refused', async () => {
      const store = await backend.open();
      try {
        const web = await store.create({ name: 'web' });
        const api = await store.create({ name: 'api', kind: 'server', ipPolicy: 'anonymize' });
        assert.equal(web.kind, 'browser');
        assert.equal(api.kind, 'server');
        assert.equal((await store.findByKeyHash(hashWriteKey(api.writeKey)))?.kind, 'server');
        assert.deepEqual((await store.list()).map((s) => [s.name, s.kind, s.ipPolicy]), [['web', 'browser', 'full'], ['api', 'server', 'anonymize']]);
        await assert.rejects(store.create({ name: 'x', kind: 'mobile' as never }), /kind must be one of browser, server/);
      } finally {
        await store.close();
      }
    });

    test('names are unique among active sources; a revoked source frees its name', async () => {
      const store = await backend.open();
      try {
        const first = await store.create({ name: 'web' });
        await assert.rejects(store.create({ name: 'web' }), (error: unknown) => error instanceof SourceNameTakenError && /a source named "web" already exists/.test(error.message));
        await assert.rejects(store.create({ name: '  web  ' }), SourceNameTakenError, 'names are trimmed before the check');
        assert.equal(await store.revoke(first.id), true);
        const second = await store.create({ name: 'web' });
        assert.notEqual(second.id, first.id);
        await assert.rejects(store.create({ name: 'x'.repeat(101) }), (error: unknown) => error instanceof InvalidSourceError && /at most 100 characters/.test(error.message));
      } finally {
        await store.close();
      }
    });

    test('keys: kept only as their hash; rotateKey gives a new one (the old stops resolving), not to a revoked source', async () => {
      const store = await backend.open();
      try {
        const web = await store.create({ name: 'keys' });
        assert.match(web.writeKey, /^wk_[A-Za-z0-9_-]{32}$/);
        assert.ok((await store.list()).every((s) => !('writeKey' in s)), 'list shows no key');
        const rotated = await store.rotateKey(web.id);
        assert.ok(rotated && rotated.writeKey !== web.writeKey && rotated.id === web.id);
        assert.equal(await store.findByKeyHash(hashWriteKey(web.writeKey)), undefined, 'the old key is gone');
        assert.equal((await store.findByKeyHash(hashWriteKey(rotated.writeKey)))?.id, web.id);
        assert.equal(await store.rotateKey('src_missing'), undefined);
        await store.revoke(web.id);
        assert.equal(await store.rotateKey(web.id), undefined, 'a revoked source gets no new key');
      } finally {
        await store.close();
      }
    });

    test('rename: the new name is kept, a taken one refused, an unknown id is undefined', async () => {
      const store = await backend.open();
      try {
        const web = await store.create({ name: 'web' });
        const api = await store.create({ name: 'api', kind: 'server' });
        const renamed = await store.rename(api.id, ' backend ');
        const { writeKey: _shownOnce, ...apiSource } = api;
        assert.deepEqual(renamed, { ...apiSource, name: 'backend' });
        assert.equal((await store.findByKeyHash(hashWriteKey(api.writeKey)))?.name, 'backend');
        await assert.rejects(store.rename(api.id, 'web'), SourceNameTakenError);
        assert.equal((await store.findByKeyHash(hashWriteKey(api.writeKey)))?.name, 'backend', 'a refused rename changes nothing');
        const { writeKey: _webKey, ...webSource } = web;
        assert.deepEqual(await store.rename(web.id, 'web'), webSource, 'renaming to its own name is fine');
        assert.equal(await store.rename('src_missing', 'x'), undefined);
        await assert.rejects(store.rename(web.id, ''), /non-empty/);
      } finally {
        await store.close();
      }
    });
  });
}

describe('upgrading a store an older Inlet made', () => {
  const OLD_ROWS = [
    ['src_a', 'web', 'wk_a', 'full', '2024-01-01T00:00:00.000Z', null],
    ['src_b', 'web', 'wk_b', 'drop', '2024-01-02T00:00:00.000Z', null],
    ['src_c', 'web', 'wk_c', 'full', '2024-01-03T00:00:00.000Z', null],
    ['src_d', 'web', 'wk_d', 'full', '2024-01-04T00:00:00.000Z', '2024-02-01T00:00:00.000Z'],
    ['src_e', 'api', 'wk_e', 'full', '2024-01-05T00:00:00.000Z', null],
  ] as const;
  const EXPECTED = [
    ['src_a', 'web', 'browser'],
    ['src_b', 'web (src_b)', 'browser'],
    ['src_c', 'web (src_c)', 'browser'],
    ['src_d', 'web', 'browser'],
    ['src_e', 'api', 'browser'],
  ];

  test('embedded: sources get kind browser; active duplicates after the oldest get their id appended; the rule holds after', async () => {
    const dir = tempDir();
    const old = new Database(databaseFile(dir));
    old.exec(`CREATE TABLE sources (id TEXT PRIMARY KEY, name TEXT NOT NULL, write_key TEXT NOT NULL UNIQUE,
      ip_policy TEXT NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')), created_at TEXT NOT NULL, revoked_at TEXT)`);
    const insert = old.prepare('INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)');
    for (const row of OLD_ROWS) insert.run(...row);
    old.close();

    for (let start = 0; start < 2; start++) {
      const store = new SqliteSourceStore(dir);
      const columns = new Database(databaseFile(dir), { readonly: true });
      const names = columns.prepare<[], { name: string }>('PRAGMA table_info(sources)').all().map((c) => c.name);
      columns.close();
      assert.ok(names.includes('key_hash') && !names.includes('write_key'), `columns ${names.join(', ')}`);
      try {
        assert.deepEqual((await store.list()).map((s) => [s.id, s.name, s.kind]), EXPECTED, `start ${start + 1}`);
        assert.equal((await store.findByKeyHash(hashWriteKey('wk_b')))?.ipPolicy, 'drop', 'the rest of a row is untouched');
        for (const [id, , key] of OLD_ROWS) assert.equal((await store.findByKeyHash(hashWriteKey(key)))?.id, id, 'each old key works, by its hash');
        await assert.rejects(store.create({ name: 'web' }), SourceNameTakenError);
      } finally {
        await store.close();
      }
    }
  });

  test('PostgreSQL: the same upgrade, idempotent, also when instances start together', { skip: postgres.skip }, async () => {
    const schema = freshSchema();
    const client = new pg.Client({ connectionString: postgres.value });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`CREATE TABLE "${schema}".inlet_sources (id text PRIMARY KEY, name text NOT NULL, write_key text UNIQUE NOT NULL,
        ip_policy text NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')), created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)`);
      for (const row of OLD_ROWS) await client.query(`INSERT INTO "${schema}".inlet_sources VALUES ($1, $2, $3, $4, $5, $6)`, [...row]);
    } finally {
      await client.end();
    }
    const stores = await Promise.all([1, 2, 3].map(() => PostgresSourceStore.open({ connectionString: postgres.value!, schema })));
    try {
      for (const store of stores) assert.deepEqual((await store.list()).map((s) => [s.id, s.name, s.kind]), EXPECTED);
      for (const [id, , key] of OLD_ROWS) assert.equal((await stores[0].findByKeyHash(hashWriteKey(key)))?.id, id, 'each old key works, by its hash');
      const check = new pg.Client({ connectionString: postgres.value });
      await check.connect();
      const columns = (await check.query('SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [schema, 'inlet_sources'])).rows.map((r: { column_name: string }) => r.column_name);
      await check.end();
      assert.ok(columns.includes('key_hash') && !columns.includes('write_key'), `columns ${columns.join(', ')}`);
      await stores[0].migrate();
      assert.deepEqual((await stores[1].list()).map((s) => [s.id, s.name, s.kind]), EXPECTED, 'a second migration changes nothing');
      await assert.rejects(stores[2].create({ name: 'web' }), SourceNameTakenError);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  // A dropped column's values stay in each row's bytes until the table is rewritten: the plain
  // keys were in the table's file, so in every physical backup, after the upgrade.
  test('PostgreSQL: after the upgrade no plain key is left in the table\'s file', { skip: postgres.skip }, async (t) => {
    const schema = freshSchema();
    const keys = Array.from({ length: 20 }, (_, i) => `wk_plain_${randomBytes(12).toString('hex')}_${i}`);
    const client = new pg.Client({ connectionString: postgres.value });
    await client.connect();
    try {
      const { rows: [role] } = await client.query<{ readsFiles: boolean }>("SELECT rolsuper OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AS \"readsFiles\" FROM pg_roles WHERE rolname = current_user");
      if (!role.readsFiles) return t.skip('reading the table\'s file needs a superuser or pg_read_server_files');
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`CREATE TABLE "${schema}".inlet_sources (id text PRIMARY KEY, name text NOT NULL, write_key text UNIQUE NOT NULL,
        ip_policy text NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')), created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)`);
      for (const [i, key] of keys.entries()) await client.query(`INSERT INTO "${schema}".inlet_sources VALUES ($1, $2, $3, 'full', now(), NULL)`, [`src_${i}`, `web ${i}`, key]);
      const store = await PostgresSourceStore.open({ connectionString: postgres.value!, schema });
      try {
        assert.equal((await store.findByKeyHash(hashWriteKey(keys[7])))?.id, 'src_7', 'the keys still work, by their hashes');
      } finally {
        await store.close();
      }
      await client.query('CHECKPOINT');
      const { rows: [file] } = await client.query<{ bytes: Buffer }>('SELECT pg_read_binary_file(pg_relation_filepath($1)) AS bytes', [`"${schema}".inlet_sources`]);
      const text = file.bytes.toString('latin1');
      assert.deepEqual(keys.filter((key) => text.includes(key)), [], 'plain keys in the table\'s file');
      const { rows: [clustered] } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_index WHERE indrelid = $1::regclass AND indisclustered', [`"${schema}".inlet_sources`]);
      assert.equal(clustered.n, 0, 'no index is left marked for CLUSTER');
    } finally {
      await client.end();
    }
  });
});

test('embedded: a database file deleted under a running server refuses source and plan changes, so no key is shown that the next start would not know', async () => {
  const dir = tempDir();
  const store = new SqliteSourceStore(dir);
  try {
    const web = await store.create({ name: 'web' });
    rmSync(databaseFile(dir));
    const gone = (error: unknown) => error instanceof DatabaseGoneError && /was deleted, moved or replaced while the server ran/.test(error.message);
    await assert.rejects(store.create({ name: 'shop' }), gone, 'create');
    await assert.rejects(store.rotateKey(web.id), gone, 'rotate');
    await assert.rejects(store.revoke(web.id), gone, 'revoke');
    await assert.rejects(store.rename(web.id, 'site'), gone, 'rename');
    await assert.rejects(store.setAdminTokenHash('f'.repeat(64), true), gone, 'admin token');
    await assert.rejects(store.plans.put(web.id, { events: {} } as never, '{"events":{}}'), gone, 'plan put');
    assert.equal((await store.findByKeyHash(hashWriteKey(web.writeKey)))?.id, web.id, 'reads still answer from the file as opened');
  } finally {
    await store.close();
  }
});
