import type Database from 'better-sqlite3';

/**
 * WAL with synchronous=FULL: a commit is on disk (fsync'd) before it returns, so an acknowledged
 * event survives a process crash and a power cut. Group commit makes that affordable.
 */
export function openPragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
}

export function migrate(db: Database.Database): void {
  db.exec(`
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
  `);
}

export const databaseFile = (dataDir: string) => `${dataDir}/inlet.db`;
