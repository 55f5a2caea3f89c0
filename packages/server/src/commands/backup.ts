// `inlet backup <file>`: a consistent copy of the embedded store while the server runs. SQLite's
// online backup (`.backup`) starts over whenever another connection commits, so on a store taking
// events it may never finish; VACUUM INTO copies what one read transaction sees, which holds up
// no writer, and writes a compact file. The copy holds personal data, write keys' hashes and the
// admin token's public key: it is made 0600, as the data directory's files are.
import { chmodSync, closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { asDamaged, databaseFile, NoDatabaseError } from '../db/database.ts';
import { configFromFlags } from './common.ts';

export const BACKUP_HELP = `Usage: inlet backup <file> [--data-dir DIR]

Writes a consistent copy of the embedded store (events, failed events, sources, plans, counts) to
<file>, which must not exist yet, while the server keeps taking events. To restore, stop the
server and put the copy in the data directory as inlet.db, with no inlet.db-wal or inlet.db-shm
beside it. With DATABASE_URL, sources and plans are in PostgreSQL: back that up with its own tools.`;

export async function backupCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { console.log(BACKUP_HELP); return 0; }
  if (positionals.length !== 1) { console.error(BACKUP_HELP); return 2; }
  const target = resolve(positionals[0]);
  if (existsSync(target)) { console.error(`inlet backup: ${target} exists; name a new file`); return 2; }
  const file = databaseFile(configFromFlags(values).dataDir);
  if (!existsSync(file)) throw new NoDatabaseError(`there is no embedded store at ${file} (pass --data-dir)`);
  const started = performance.now();
  // Made 0600 before SQLite writes into it (an empty file is what VACUUM INTO expects to fill).
  try {
    closeSync(openSync(target, 'wx', 0o600));
  } catch (error) {
    console.error(`inlet backup: cannot create ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return 1;
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(target);
  } catch (error) {
    // What is left of the copy is no backup, and would stand in the way of the next try.
    rmSync(target, { force: true });
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
