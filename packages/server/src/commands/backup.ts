// `inlet backup <file>`: a consistent copy of the embedded store while the server runs. SQLite's
// online backup (`.backup`) starts over whenever another connection commits, so on a store taking
// events it may never finish; VACUUM INTO copies what one read transaction sees, which holds up
// no writer, and writes a compact file. The copy holds personal data, write keys' hashes and the
// admin token's public key: it is made 0600, as the data directory's files are. Before copying it
// checks that the copy fits where it goes: a backup written onto the data disk until it is full
// would stop the server taking events (and fail anyway).
import { chmodSync, closeSync, existsSync, openSync, rmSync, statfsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { asDamaged, databaseFile, NoDatabaseError } from '../db/database.ts';
import { configFromFlags } from './common.ts';

export const BACKUP_HELP = `Usage: inlet backup <file> [--data-dir DIR]

Writes a consistent copy of the embedded store (events, failed events, sources, plans, counts) to
<file>, which must not exist yet, while the server keeps taking events. When the file system
<file> goes to lacks room for the copy (the store's pages in use, and a margin of 10% or at least
32 MiB), it says how much is needed and free, and copies nothing (exit 1). To restore, stop the
server and put the copy in the data directory as inlet.db, with no inlet.db-wal or inlet.db-shm
beside it. With DATABASE_URL, sources and plans are in PostgreSQL: back that up with its own tools.`;

/**
 * Room kept on top of the pages in use: VACUUM INTO lays the b-trees out anew (a copy is about the
 * size of what is in use, a little more when index pages fill differently), events stored while it
 * copies are in it too, and a disk filled to its last megabytes stops a server that shares it
 * (readiness wants 16 MiB free, failed events give way below 32 MiB).
 */
const MARGIN_SHARE = 0.1;
const MARGIN_FLOOR_BYTES = 32 * 1024 * 1024;

/** What the copy will take: the store's pages in use (its free pages are not copied), plus the margin. */
export function copyNeeds(db: Database.Database): { inUse: number; needed: number } {
  const pages = (name: string) => Number(db.pragma(name, { simple: true }));
  const inUse = (pages('page_count') - pages('freelist_count')) * pages('page_size');
  return { inUse, needed: inUse + Math.max(MARGIN_FLOOR_BYTES, Math.ceil(inUse * MARGIN_SHARE)) };
}

/** Bytes an unprivileged writer may still use in the file system holding `dir`; undefined when it cannot be asked (creating the file will say why). */
function freeBytesIn(dir: string): number | undefined {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return undefined;
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export async function backupCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { console.log(BACKUP_HELP); return 0; }
  if (positionals.length !== 1) { console.error(BACKUP_HELP); return 2; }
  const target = resolve(positionals[0]);
  if (existsSync(target)) { console.error(`inlet backup: ${target} exists; name a new file`); return 2; }
  const file = databaseFile(configFromFlags(values).dataDir);
  if (!existsSync(file)) throw new NoDatabaseError(`there is no embedded store at ${file} (pass --data-dir)`);
  const started = performance.now();
  let db: Database.Database | undefined;
  let created = false;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const { inUse, needed } = copyNeeds(db);
    const free = freeBytesIn(dirname(target));
    if (free !== undefined && free < needed) {
      console.error(`inlet backup: not enough room for the copy where ${target} goes: it needs ${mib(needed)} (${mib(inUse)} in use in the store, and a margin) and ${mib(free)} is free; no copy made`);
      return 1;
    }
    // Made 0600 before SQLite writes into it (an empty file is what VACUUM INTO expects to fill).
    try {
      closeSync(openSync(target, 'wx', 0o600));
      created = true;
    } catch (error) {
      console.error(`inlet backup: cannot create ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return 1;
    }
    db.prepare('VACUUM INTO ?').run(target);
  } catch (error) {
    // What is left of the copy is no backup, and would stand in the way of the next try.
    if (created) rmSync(target, { force: true });
    const damaged = asDamaged(error, file);
    if (damaged !== error) throw damaged;
    console.error(`inlet backup: no copy made (${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}); a full disk where ${target} goes is the usual cause`);
    return 1;
  } finally {
    db?.close();
  }
  chmodSync(target, 0o600);
  const mb = statSync(target).size / 1024 / 1024;
  console.log(`backed up ${file} to ${target} (${mb.toFixed(1)} MB in ${Math.round(performance.now() - started)} ms)`);
  return 0;
}
