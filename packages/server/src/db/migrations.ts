// The embedded database's schema, as a list of steps. `PRAGMA user_version` records how many have
// run, so a data directory made by an older Inlet is brought up to date when it is opened, and one
// made by a newer Inlet is refused rather than misread. Append new steps; never edit one that shipped.
import type Database from 'better-sqlite3';
import { hashWriteKey } from '../sources/keys.ts';

type Migration = (db: Database.Database) => void;

const MIGRATIONS: Migration[] = [
  // 1: events and sources, as Inlet made them before the schema was versioned (IF NOT EXISTS: such a
  // data directory is at version 0 and already has these tables).
  (db) => db.exec(`
    CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,
      source_id TEXT NOT NULL,
      message_id TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      body TEXT NOT NULL,
      UNIQUE (source_id, message_id)
    );
    CREATE TABLE IF NOT EXISTS sources (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      write_key TEXT NOT NULL UNIQUE,
      ip_policy TEXT NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')),
      created_at TEXT NOT NULL,
      revoked_at TEXT
    );
  `),
  // 2: sources get a kind (browser or server; those made before came from browsers), and names are
  // unique among active sources: older duplicates get their id appended, then a partial unique
  // index keeps the rule. (A data directory made between this rule and schema versions has both.)
  (db) => {
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(sources)').all().map((c) => c.name);
    if (!columns.includes('kind')) db.exec("ALTER TABLE sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'server'))");
    db.exec(`
      UPDATE sources SET name = name || ' (' || id || ')'
      WHERE revoked_at IS NULL AND EXISTS (
        SELECT 1 FROM sources older
        WHERE older.name = sources.name AND older.revoked_at IS NULL
          AND (older.created_at < sources.created_at OR (older.created_at = sources.created_at AND older.id < sources.id))
      );
      CREATE UNIQUE INDEX IF NOT EXISTS sources_active_name ON sources (name) WHERE revoked_at IS NULL;
    `);
  },
  // 3: failed events, per-source counts by minute, and settings (the admin token's hash).
  (db) => db.exec(`
    CREATE TABLE failed_events (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      source_id TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      reason TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'failed' CHECK (status IN ('failed', 'replayed')),
      replayed_at INTEGER,
      size INTEGER NOT NULL,
      entry TEXT NOT NULL
    );
    -- retention deletes by age, and the size cap's total is summed from this index alone
    CREATE INDEX failed_events_age ON failed_events (received_at, size);
    CREATE INDEX failed_events_source ON failed_events (source_id, seq);
    CREATE TABLE source_stats (
      source_id TEXT NOT NULL,
      minute INTEGER NOT NULL,
      outcome TEXT NOT NULL,
      reason TEXT NOT NULL DEFAULT '',
      count INTEGER NOT NULL,
      PRIMARY KEY (minute, source_id, outcome, reason)
    ) WITHOUT ROWID;
    CREATE TABLE settings (
      name TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
  `),
  // 4: tracking plans, every version of each source's plan; a deletion is a version whose plan is NULL.
  (db) => db.exec(`
    CREATE TABLE plans (
      source_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      created_at TEXT NOT NULL,
      plan TEXT,
      summary TEXT,
      PRIMARY KEY (source_id, version)
    );
  `),
  // 5: write keys kept as their SHA-256 only (hashWriteKey): the table is rebuilt without the
  // write_key column (SQLite cannot drop a UNIQUE column), with secure_delete on so the pages that
  // held the keys are zeroed rather than left in the file. And the sources' change log, whose
  // counter running servers poll to drop keys that were rotated or revoked (one row per change: a
  // person's rate, so it is kept).
  (db) => {
    db.pragma('secure_delete = ON');
    db.function('inlet_key_hash', { deterministic: true }, (key: unknown) => hashWriteKey(String(key)));
    db.exec(`
      CREATE TABLE sources_hashed (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        ip_policy TEXT NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')),
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        kind TEXT NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'server'))
      );
      INSERT INTO sources_hashed (id, name, key_hash, ip_policy, created_at, revoked_at, kind)
        SELECT id, name, inlet_key_hash(write_key), ip_policy, created_at, revoked_at, kind FROM sources;
      DROP TABLE sources;
      ALTER TABLE sources_hashed RENAME TO sources;
      CREATE UNIQUE INDEX sources_active_name ON sources (name) WHERE revoked_at IS NULL;
      CREATE TABLE source_changes (
        version INTEGER PRIMARY KEY,
        source_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('created', 'renamed', 'rotated', 'revoked')),
        retired_key_hash TEXT,
        changed_at TEXT NOT NULL
      );
    `);
  },
  // 6: console sessions signed out before their expiry (admin/ended-sessions.ts): the cookie's
  // nonce and its expiry (ms since the epoch), after which the row is pruned.
  (db) => db.exec(`
    CREATE TABLE ended_sessions (
      nonce TEXT PRIMARY KEY,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX ended_sessions_expiry ON ended_sessions (expires_at);
  `),
  // 7: the size cap takes failed events from the source holding the most (db/failed-bytes.ts): the
  // writer sums each source's bytes at start, and reads a source's oldest entries with their sizes.
  // With size in the source index both come from the index alone: on 1.5 M entries the sums took
  // 2.1 s reading the table, 0.12 s from the index (2.8 s and 0.9 s with nothing cached); the
  // rebuild takes about 1.4 s there, once.
  (db) => db.exec(`
    DROP INDEX failed_events_source;
    CREATE INDEX failed_events_source ON failed_events (source_id, seq, size);
  `),
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The file was upgraded by a newer Inlet (this one is a rollback): the operator's to resolve, said in one line. */
export class NewerDatabaseError extends Error {
  override name = 'NewerDatabaseError';
}

/** Runs the steps this database has not had yet, all in one transaction. Safe from several connections at once. */
export function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock first, so two connections cannot both see the old version.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new NewerDatabaseError(`the embedded store ${db.name} has schema version ${version}, newer than this Inlet knows (${SCHEMA_VERSION}); run a newer Inlet`);
    }
    for (let step = version; step < SCHEMA_VERSION; step++) MIGRATIONS[step](db);
    if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
