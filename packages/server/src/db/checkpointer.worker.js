// Copies committed WAL frames into the database file from its own thread and connection, so the
// writer's commits do not wait for checkpoints (which write and fsync the database file).
// Plain JavaScript: it needs nothing from the TypeScript sources, so no loader is registered.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const PASS_INTERVAL_MS = 10;
const db = new Database(workerData.file);
let timer;

function pass() {
  try {
    // PASSIVE never waits for the writer or readers; it copies what it can and returns.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or a transient I/O error: the next pass, or the writer's own checkpoint, catches up.
  }
  timer = setTimeout(pass, PASS_INTERVAL_MS);
}

parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
timer = setTimeout(pass, PASS_INTERVAL_MS);
