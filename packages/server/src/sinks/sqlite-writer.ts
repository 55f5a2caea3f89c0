// Runs in a worker thread: the fsync of each group commit happens off the event loop, so the
// main thread keeps parsing requests while the disk works.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { migrate, openPragmas } from './sqlite-schema.ts';

export type WriterRow = [sourceId: string, messageId: string, receivedAtMs: number, body: string];
export interface WriterRequest { id: number; rows: WriterRow[] }
export type WriterReply = { id: number; ok: true; inserted: number } | { id: number; ok: false; error: string };

const db = new Database((workerData as { file: string }).file);
openPragmas(db);
migrate(db);
// A repeated (source, messageId) is acknowledged but stored once.
const insert = db.prepare('INSERT OR IGNORE INTO events (source_id, message_id, received_at, body) VALUES (?, ?, ?, ?)');
const insertAll = db.transaction((rows: WriterRow[]) => {
  let inserted = 0;
  for (const row of rows) inserted += insert.run(row).changes;
  return inserted;
});

parentPort!.on('message', (request: WriterRequest | 'close') => {
  if (request === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { id: request.id, ok: true, inserted: insertAll(request.rows) };
  } catch (error) {
    reply = { id: request.id, ok: false, error: (error as Error).message };
  }
  parentPort!.postMessage(reply);
});
