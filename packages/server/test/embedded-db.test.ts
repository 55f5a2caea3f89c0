// The embedded database's schema is versioned: a data directory made before versions existed is
// brought up to date with its events and sources intact (write keys as their hashes from then on);
// one from a newer Inlet is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startInlet } from '@inlet/testkit';
import { databaseFile, openDatabase } from '../src/db/database.ts';
import { SCHEMA_VERSION } from '../src/db/migrations.ts';
import { hashWriteKey } from '../src/sources/keys.ts';
import { postJson } from './http-client.ts';

/** The tables exactly as Inlet created them before the schema had versions. */
const UNVERSIONED_SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, source_id TEXT NOT NULL, message_id TEXT NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (source_id, message_id));
  CREATE TABLE IF NOT EXISTS sources (id TEXT PRIMARY KEY, name TEXT NOT NULL, write_key TEXT NOT NULL UNIQUE, ip_policy TEXT NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')), created_at TEXT NOT NULL, revoked_at TEXT);
`;

test('a data directory from before schema versions is upgraded in place, keeping its events and sources', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-upgrade-'));
  try {
    const old = new Database(databaseFile(dataDir));
    old.pragma('journal_mode = WAL');
    old.exec(UNVERSIONED_SCHEMA);
    old.prepare("INSERT INTO sources VALUES ('src_old', 'default', 'wk_old_key', 'full', '2026-01-01T00:00:00.000Z', NULL)").run();
    old.prepare("INSERT INTO events (source_id, message_id, received_at, body) VALUES ('src_old', 'm-old', 1, '{\"messageId\":\"m-old\",\"sourceId\":\"src_old\"}')").run();
    assert.equal(old.pragma('user_version', { simple: true }), 0);
    old.close();

    const inlet = await startInlet({ dataDir });
    try {
      assert.equal(inlet.server.defaultSource?.id, 'src_old', 'the old default source is still the default');
      assert.equal(inlet.server.defaultSource?.writeKey, undefined, 'its key is not shown again');
      assert.equal((await postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track', userId: 'u', event: 'new' }, { type: 'track', userId: 'u' }] }, 'wk_old_key')).status, 200);
      const ids = (await inlet.events()).map((r) => r.messageId);
      assert.equal(ids[0], 'm-old');
      assert.equal(ids.length, 2);
      const failed = inlet.server.failed;
      assert.equal((await failed.list({}, 10)).failed.length, 1, 'the new failed-events table works');
    } finally {
      await inlet.close();
    }
    const after = new Database(databaseFile(dataDir), { readonly: true });
    assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepEqual(after.prepare('SELECT id, key_hash FROM sources').all(), [{ id: 'src_old', key_hash: hashWriteKey('wk_old_key') }], 'the key is kept as its SHA-256');
    after.close();
    for (const file of [databaseFile(dataDir), `${databaseFile(dataDir)}-wal`].filter(existsSync)) {
      assert.ok(!readFileSync(file).includes('wk_old_key'), `${file} holds the old key in plain text no more`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a database from a newer Inlet is refused with a message saying so', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-newer-'));
  try {
    const db = new Database(databaseFile(dataDir));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => openDatabase(databaseFile(dataDir)), /newer than this Inlet knows/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
