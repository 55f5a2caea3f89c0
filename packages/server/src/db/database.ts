// The embedded database: one SQLite file in the data directory holding events, failed events,
// per-source counts, sources and settings. Every connection to it is opened here, so each gets the
// same pragmas and the schema is brought up to date before anything reads or writes it.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from './migrations.ts';

export const databaseFile = (dataDir: string) => join(dataDir, 'inlet.db');

/**
 * A read-write connection (creating the directory and file when missing). WAL with
 * synchronous=FULL: a commit is on disk (fsync'd) before it returns, so an acknowledged event
 * survives a process crash and a power cut. Group commit makes that affordable.
 */
export function openDatabase(file: string): Database.Database {
  mkdirSync(join(file, '..'), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** The embedded store of `dataDir` for a command that only reads or changes it: never creates one. */
export function openExistingDatabase(dataDir: string): Database.Database {
  const file = databaseFile(dataDir);
  if (!existsSync(file)) throw new NoDatabaseError(`there is no embedded store in ${dataDir} (start the server there first, or pass --data-dir)`);
  return openDatabase(file);
}

export class NoDatabaseError extends Error {
  override name = 'NoDatabaseError';
}
