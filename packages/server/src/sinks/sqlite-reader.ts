import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { NormalizedRecord } from '@inlet/schema';
import { databaseFile } from './sqlite-schema.ts';

export interface StoredRow {
  seq: number;
  record: NormalizedRecord;
}

/** Events in the embedded store after `afterSeq`, oldest first. Opens read-only: safe beside a running server. */
export function readStoredEvents(dataDir: string, afterSeq = 0, limit = 10_000): StoredRow[] {
  const file = databaseFile(dataDir);
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
    if (!hasTable) return [];
    return db.prepare<[number, number], { seq: number; body: string }>('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit)
      .map((row) => ({ seq: row.seq, record: JSON.parse(row.body) as NormalizedRecord }));
  } finally {
    db.close();
  }
}
