// Runs in a worker thread: the fsync of each group commit happens off the event loop, so the
// main thread keeps parsing requests while the disk works.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { migrate, openPragmas } from './sqlite-schema.ts';
import { ROW_WIDTH, type WriterReply, type WriterRequest, type WriterRows } from './writer-protocol.ts';


const db = new Database((workerData as { file: string }).file);
openPragmas(db);
migrate(db);
// A repeated (source, messageId) is acknowledged but stored once.
const insert = db.prepare('INSERT OR IGNORE INTO events (source_id, message_id, received_at, body) VALUES (?, ?, ?, ?)');
const insertAll = db.transaction((rows: WriterRows) => {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += ROW_WIDTH) inserted += insert.run(rows[i], rows[i + 1], rows[i + 2], rows[i + 3]).changes;
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
