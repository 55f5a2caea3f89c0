// Runs in a worker thread: the fsync of each group commit happens off the event loop, so the
// main thread keeps parsing requests while the disk works.
import { parentPort, Worker, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { migrate, openPragmas } from './sqlite-schema.ts';
import { ROW_WIDTH, type WriterReply, type WriterRequest, type WriterRows } from './writer-protocol.ts';


const { file } = workerData as { file: string };
const db = new Database(file);
openPragmas(db);
migrate(db);

// Checkpoints run beside the commits, not inside them: SQLite's default runs one inside the commit
// that crosses 1000 WAL pages, which put 10-30 ms on that commit. The checkpointer thread copies
// frames soon after they are committed. But the WAL only starts over after a checkpoint that
// finished with no commit in between, which under constant writes a second thread rarely sees.
// So the writer also runs one itself, after replying, each time this much has gone into the WAL;
// by then the checkpointer has copied most of it.
const OWN_CHECKPOINT_AFTER_BYTES = 16 * 1024 * 1024;
db.pragma('wal_autocheckpoint = 0');
db.pragma(`journal_size_limit = ${4 * OWN_CHECKPOINT_AFTER_BYTES}`);
const checkpointer = new Worker(new URL('./sqlite-checkpointer.worker.js', import.meta.url), { workerData: { file } });
// Without the checkpointer the writer's own checkpoints still bound the WAL, only on its path.
checkpointer.on('error', () => {});
let checkpointerRunning = true;
checkpointer.once('exit', () => { checkpointerRunning = false; });
let bytesSinceOwnCheckpoint = 0;

function checkpointIfDue(rows: WriterRows): void {
  for (let i = ROW_WIDTH - 1; i < rows.length; i += ROW_WIDTH) bytesSinceOwnCheckpoint += (rows[i] as string).length;
  if (bytesSinceOwnCheckpoint < OWN_CHECKPOINT_AFTER_BYTES) return;
  // Busy means the checkpointer is in a pass: try again after the next commit.
  const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number }[];
  if (result.busy === 0) bytesSinceOwnCheckpoint = 0;
}
// A repeated (source, messageId) is acknowledged but stored once.
const insert = db.prepare('INSERT OR IGNORE INTO events (source_id, message_id, received_at, body) VALUES (?, ?, ?, ?)');
const insertAll = db.transaction((rows: WriterRows) => {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += ROW_WIDTH) inserted += insert.run(rows[i], rows[i + 1], rows[i + 2], rows[i + 3]).changes;
  return inserted;
});

parentPort!.on('message', async (request: WriterRequest | 'close') => {
  if (request === 'close') {
    if (checkpointerRunning) {
      const stopped = new Promise((resolve) => checkpointer.once('exit', resolve));
      checkpointer.postMessage('close');
      await stopped;
    }
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
  if (reply.ok) checkpointIfDue(request.rows);
});
