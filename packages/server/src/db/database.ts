// The embedded database: one SQLite file in the data directory holding events, failed events,
// per-source counts, sources and settings. Every connection to it is opened here, so each gets the
// same pragmas and the schema is brought up to date before anything reads or writes it.
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { migrate } from './migrations.ts';

export const databaseFile = (dataDir: string) => join(dataDir, 'inlet.db');

/**
 * The data directory holds events (personal data) and the sources: only its owner may read it.
 * Creates it 0700 when missing and tightens an existing one and its files (0600) at start — a
 * store made by an older version, or under a loose umask, included. The database file is created
 * 0600 before SQLite opens it, since SQLite gives its -wal and -shm files the database file's mode.
 */
export function privateDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  for (const name of readdirSync(dataDir)) {
    const path = join(dataDir, name);
    const stat = lstatSync(path);
    if (stat.isFile() && (stat.mode & 0o077) !== 0) chmodSync(path, stat.mode & 0o700);
  }
  const file = databaseFile(dataDir);
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
}

/**
 * A read-write connection (creating the directory and file when missing). WAL with
 * synchronous=FULL: a commit is on disk (fsync'd) before it returns, so an acknowledged event
 * survives a process crash and a power cut. Group commit makes that affordable.
 *
 * SQLite's default 4 KB pages, on purpose: 16 KB pages made a batch of UUIDv7 events ~16% cheaper
 * to store, but a random (UUIDv4, Segment's SDKs) messageId dirties an index page of its own per
 * event, whose whole page goes into the WAL: 16 KB instead of ~6.5 KB per event, ~1.8x the CPU,
 * and 3x the half-peak latency (bench/LOG.md, "2026-12-06, 08:30 UTC session").
 */
export function openDatabase(file: string): Database.Database {
  privateDataDir(dirname(file));
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (error) {
    db.close();
    throw asDamaged(error, file);
  }
  return db;
}

/** SQLite's "not a database" and "malformed" as a DamagedDatabaseError naming `file`; other errors as they are. */
export function asDamaged(error: unknown, file: string): unknown {
  const code = (error as { code?: string }).code;
  if (code !== 'SQLITE_CORRUPT' && code !== 'SQLITE_NOTADB') return error;
  return new DamagedDatabaseError(`the embedded store ${file} is damaged (${(error as Error).message}): restore it from a backup, or move it away (with its -wal file) to start an empty one`);
}

/**
 * The database file as opened, told apart from what its path names now. A file deleted, moved or
 * replaced under a running server (a cleanup job, an operator, a restore, NFS renaming a file
 * deleted while open): SQLite goes on committing to the file it has open, and what it commits is
 * not in the file the next start opens at that path. Asked by path, with no descriptor of its own:
 * closing any descriptor of a file drops every lock the process holds on it, SQLite's included.
 */
export class OpenedFile {
  readonly #file: string;
  readonly dev: number;
  readonly ino: number;
  /** what a write to it is refused with once it is gone */
  readonly goneMessage: string;

  constructor(file: string) {
    this.#file = file;
    ({ dev: this.dev, ino: this.ino } = statSync(file));
    this.goneMessage = `the database file ${file} was deleted, moved or replaced while the server ran: writes are refused until the server is restarted`;
  }

  get gone(): boolean {
    try {
      const now = statSync(this.#file);
      return now.ino !== this.ino || now.dev !== this.dev;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }
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

/** The database file is not one SQLite can read: the operator's to restore, said in one line. */
export class DamagedDatabaseError extends Error {
  override name = 'DamagedDatabaseError';
}
