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

/**
 * Creates what is missing and upgrades what an older version made. Runs in one IMMEDIATE
 * transaction: the writer thread and the source store open the file at the same time, and only
 * one of them may see the old shape and change it.
 */
export function migrate(db: Database.Database): void {
  db.transaction(() => {
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
        kind TEXT NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'server')),
        ip_policy TEXT NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')),
        created_at TEXT NOT NULL,
        revoked_at TEXT
      );
    `);
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(sources)').all().map((c) => c.name);
    // Sources made before sources had a kind came from browsers (the only rule there was).
    if (!columns.includes('kind')) db.exec("ALTER TABLE sources ADD COLUMN kind TEXT NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'server'))");
    uniqueActiveNames(db);
  }).immediate();
}

/**
 * Names are unique among active sources. A store from before that rule may hold duplicates: the
 * oldest keeps its name, the others get their id appended (`web (src_...)`), then the index
 * makes the rule hold from then on.
 */
function uniqueActiveNames(db: Database.Database): void {
  const hasIndex = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'sources_active_name'").get();
  if (hasIndex) return;
  db.exec(`
    UPDATE sources SET name = name || ' (' || id || ')'
    WHERE revoked_at IS NULL AND EXISTS (
      SELECT 1 FROM sources older
      WHERE older.name = sources.name AND older.revoked_at IS NULL
        AND (older.created_at < sources.created_at OR (older.created_at = sources.created_at AND older.id < sources.id))
    );
    CREATE UNIQUE INDEX sources_active_name ON sources (name) WHERE revoked_at IS NULL;
  `);
}

export const databaseFile = (dataDir: string) => `${dataDir}/inlet.db`;
