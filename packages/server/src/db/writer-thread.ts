// Runs in a worker thread: the fsync of each group commit happens off the event loop, so the
// main thread keeps parsing requests while the disk works. Everything a request stores (its
// accepted events, its failed events and the per-source counts of both) goes into one
// transaction, so the counts can never disagree with what is stored.
import type Database from 'better-sqlite3';
import { realpathSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { OpenedFile, openDatabase } from './database.ts';
import { fairLevel, FailedBytes } from './failed-bytes.ts';
import {
  EVENT_WIDTH, FAILED_WIDTH, STILL_FAILING_WIDTH,
  type IngestCommit, type ReplayCommit, type WriterOptions, type WriterReply, type WriterRequest, type WriterRows,
} from './writer-protocol.ts';

const options = workerData as WriterOptions;
const db = openDatabase(options.file);

// A commit to a file deleted or replaced under the server is not acknowledged (OpenedFile).
const file = new OpenedFile(options.file);
const GONE = file.goneMessage;
// A thread started again after one ended: a file deleted or replaced meanwhile is not the store
// the rest of the server (sources, readers) still has open.
const replaced = options.expected !== undefined && (options.expected.dev !== file.dev || options.expected.ino !== file.ino);
parentPort!.postMessage({ kind: 'opened', dev: file.dev, ino: file.ino } satisfies WriterReply);
if (replaced) parentPort!.postMessage({ kind: 'gone', error: GONE } satisfies WriterReply);
const fileGone = () => replaced || file.gone;
const fileWatch = setInterval(() => { if (fileGone()) parentPort!.postMessage({ kind: 'gone', error: GONE } satisfies WriterReply); }, 1000);

// Checkpoints run beside the commits, not inside them: SQLite's default runs one inside the commit
// that crosses 1000 WAL pages, which put 10-30 ms on that commit. The checkpointer thread copies
// frames soon after they are committed. But the WAL only starts over after a checkpoint that
// finished with no commit in between, which under constant writes a second thread rarely sees.
// So the writer also runs one itself, after replying, each time this much has gone into the WAL;
// by then the checkpointer has copied most of it.
const OWN_CHECKPOINT_AFTER_BYTES = 16 * 1024 * 1024;
db.pragma('wal_autocheckpoint = 0');
db.pragma(`journal_size_limit = ${4 * OWN_CHECKPOINT_AFTER_BYTES}`); // WAL_LIMIT below
const checkpointer = new Worker(new URL('./checkpointer.worker.js', import.meta.url), { workerData: { file: options.file } });
// Without the checkpointer the writer's own checkpoints still bound the WAL, only on its path.
checkpointer.on('error', () => {});
let checkpointerRunning = true;
checkpointer.once('exit', () => { checkpointerRunning = false; });
let bytesSinceOwnCheckpoint = 0;

function checkpointIfDue(written: number): void {
  bytesSinceOwnCheckpoint += written;
  if (bytesSinceOwnCheckpoint < OWN_CHECKPOINT_AFTER_BYTES) return;
  // Busy means the checkpointer is in a pass: try again after the next commit. So does an error
  // (SQLITE_FULL on a full disk, an I/O error): uncaught here it ended the thread, and every write after.
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number }[];
    if (result.busy === 0) bytesSinceOwnCheckpoint = 0;
  } catch {
    // the next commit tries again
  }
}

// A repeated (source, messageId) is acknowledged but stored once; it is counted as a duplicate.
const INSERT_EVENTS = 'INSERT OR IGNORE INTO events (source_id, message_id, received_at, body) VALUES ';
const insertEvent = db.prepare(`${INSERT_EVENTS}(?, ?, ?, ?)`);
// A request's events go in as statements of up to ROWS_PER_INSERT rows: one call per row cost
// ~1-2 µs of CPU per event more (a whole-process A/B of 150,000 rows: 0.86-0.90x the CPU).
const ROWS_PER_INSERT = 100;
const insertMany = new Map<number, Database.Statement>();
function insertRows(rows: number): Database.Statement {
  let statement = insertMany.get(rows);
  if (!statement) insertMany.set(rows, statement = db.prepare(INSERT_EVENTS + Array(rows).fill('(?, ?, ?, ?)').join(', ')));
  return statement;
}
const insertFailed = db.prepare('INSERT OR IGNORE INTO failed_events (id, source_id, received_at, reason, size, entry) VALUES (?, ?, ?, ?, ?, ?)');
const markReplayed = db.prepare("UPDATE failed_events SET status = 'replayed', replayed_at = ? WHERE id = ? AND status = 'failed'");
const sizeOfFailed = db.prepare<[string], { sourceId: string; size: number }>("SELECT source_id AS sourceId, size FROM failed_events WHERE id = ? AND status = 'failed'");
const updateFailed = db.prepare('UPDATE failed_events SET reason = ?, entry = ?, size = ? WHERE id = ?');
const countOutcome = db.prepare('INSERT INTO source_stats (source_id, minute, outcome, reason, count) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count');
// A source's oldest entries, and the sums of all, from the index failed_events_source (source_id, seq, size) alone.
const oldestOfSource = db.prepare<[string, number], { seq: number; size: number }>('SELECT seq, size FROM failed_events WHERE source_id = ? ORDER BY seq LIMIT ?');
const dropOfSourceThrough = db.prepare<[string, number], { size: number }>('DELETE FROM failed_events WHERE source_id = ? AND seq <= ? RETURNING size');
const dropExpiredFailed = db.prepare<[number, number], { sourceId: string; size: number }>('DELETE FROM failed_events WHERE seq IN (SELECT seq FROM failed_events WHERE received_at < ? LIMIT ?) RETURNING source_id AS sourceId, size');
const dropOldStats = db.prepare('DELETE FROM source_stats WHERE minute < ?');
const failedBySource = db.prepare<[], { sourceId: string; bytes: number }>('SELECT source_id AS sourceId, sum(size) AS bytes FROM failed_events GROUP BY source_id');
// The total alone comes from the smaller index failed_events_age: on 1.5 M entries 60 ms, the sums by source 120 ms.
const failedTotal = db.prepare<[], { bytes: number }>('SELECT coalesce(sum(size), 0) AS bytes FROM failed_events');

/** Per-source counts kept this long (a row per source, minute and outcome). */
const STATS_RETENTION_MS = 30 * 24 * 3600_000;
const MAINTENANCE_INTERVAL_MS = 60_000;
/**
 * Failed-event bytes as the size cap counts them, by source (failed-bytes.ts). Read at start by
 * the writer that applies the cap; a command's writer (maintain false) has no use for them.
 */
const failedBytes = new FailedBytes();
if (options.maintain) failedBytes.recount(failedBySource.iterate());
let droppedByRetention = 0;
let droppedBySize = 0;

/**
 * Counts of one commit by source, minute, outcome and reason. Rows of one request share source and
 * minute, so a run of equal keys is summed before the map is touched.
 */
class Tally {
  private readonly counts = new Map<string, number>();
  private sourceId = '';
  private minute = -1;
  private outcome = '';
  private reason = '';
  private run = 0;

  add(sourceId: string, receivedAtMs: number, outcome: string, reason = '', count = 1): void {
    if (count === 0) return;
    const minute = Math.floor(receivedAtMs / 60_000);
    if (sourceId === this.sourceId && minute === this.minute && outcome === this.outcome && reason === this.reason) { this.run += count; return; }
    this.flushRun();
    this.sourceId = sourceId;
    this.minute = minute;
    this.outcome = outcome;
    this.reason = reason;
    this.run = count;
  }

  private flushRun(): void {
    if (this.run === 0) return;
    const key = `${this.sourceId}\u0000${this.minute}\u0000${this.outcome}\u0000${this.reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + this.run);
    this.run = 0;
  }

  write(): void {
    this.flushRun();
    for (const [key, count] of this.counts) {
      const [sourceId, minute, outcome, reason] = key.split('\u0000');
      countOutcome.run(sourceId, Number(minute), outcome, reason, count);
    }
  }
}

/**
 * Failed events give way to the disk too: with less than this room left, they are dropped as over
 * the cap (enforceSizeCap: the source holding the most first), down to what leaves it. One source's flood of bad events filled a small disk under the
 * 1 GiB cap, and every other source's events were refused from then on, the flood long over. The
 * room: free space on the disk, plus pages the database has free inside it (the next commits
 * reuse them, so freeing them inside the file is enough), less what the WAL may still grow by
 * (to its largest size seen and one own-checkpoint interval more, at most its journal_size_limit):
 * from about 48 MB free on a fresh start. The sink says not ready below 16 MB of free disk.
 */
const FAILED_EVENTS_ROOM_FLOOR = 32 * 1024 * 1024;
const WAL_LIMIT = 4 * OWN_CHECKPOINT_AFTER_BYTES;
// Where SQLite keeps them: beside the file itself, were inlet.db a symlink to another disk.
const realFile = realpathSync(options.file);
const walFile = `${realFile}-wal`;
const dataDir = dirname(realFile);
/** The WAL's largest size seen: it is expected to reach that again, and a little more, not its limit. */
let walHighWater = 0;
const pageSize = db.pragma('page_size', { simple: true }) as number;

/** How often the disk is asked (every commit asks for the cap). */
const ROOM_CHECK_MS = 250;
let roomCheckedAt = -Infinity;
let roomCap = Infinity;

/** The cap now: FAILED_MAX_BYTES, or less while the room left is under FAILED_EVENTS_ROOM_FLOOR. */
function currentCap(): number {
  const now = Date.now();
  if (now - roomCheckedAt < ROOM_CHECK_MS) return Math.min(options.failedMaxBytes, roomCap);
  roomCheckedAt = now;
  roomCap = roomLimit();
  return Math.min(options.failedMaxBytes, roomCap);
}

/** What failed events may take for the disk to keep FAILED_EVENTS_ROOM_FLOOR; Infinity when it has room. */
function roomLimit(): number {
  try {
    const disk = statfsSync(dataDir);
    const wal = statSync(walFile, { throwIfNoEntry: false })?.size ?? 0;
    walHighWater = Math.max(walHighWater, wal);
    const walGrowth = Math.max(0, Math.min(WAL_LIMIT, walHighWater + OWN_CHECKPOINT_AFTER_BYTES) - wal);
    const room = disk.bavail * disk.bsize + (db.pragma('freelist_count', { simple: true }) as number) * pageSize - walGrowth;
    if (room < FAILED_EVENTS_ROOM_FLOOR) return Math.max(0, failedBytes.total - (FAILED_EVENTS_ROOM_FLOOR - room));
  } catch {
    // cannot tell: the configured cap alone
  }
  return Infinity;
}

/**
 * Over the cap, failed events go until their total is a little under it (so this does not run on
 * every commit): from the source holding the most, oldest first, down to the next largest, then
 * from both, and so on (fairLevel). A source flooding the store loses its own entries; one under
 * its fair share keeps all of its. With one source holding entries, its oldest go, as before.
 */
function enforceSizeCap(): void {
  const cap = currentCap();
  if (failedBytes.total <= cap) return;
  const target = cap - Math.min(Math.floor(cap / 10), 4 * 1024 * 1024);
  const sources = failedBytes.largestFirst();
  const level = fairLevel(sources.map(([, bytes]) => bytes), target);
  for (const [sourceId, bytes] of sources) {
    if (bytes <= level) break;
    dropOldestOfSource(sourceId, level);
  }
}

/** Rows of a source read at once while its oldest are dropped (one index read and one delete each). */
const DROP_CHUNK = 256;

/** Deletes a source's oldest entries until it holds at most `level` bytes. */
function dropOldestOfSource(sourceId: string, level: number): void {
  while (failedBytes.of(sourceId) > level) {
    const oldest = oldestOfSource.all(sourceId, DROP_CHUNK);
    // Counted more than it holds (another process's replay changed sizes since the last recount).
    if (oldest.length === 0) { failedBytes.forget(sourceId); return; }
    // The fewest oldest rows that bring it to the level (all of them when they are not enough).
    let excess = failedBytes.of(sourceId) - level;
    let through = oldest[oldest.length - 1].seq;
    for (const row of oldest) {
      excess -= row.size;
      if (excess <= 0) { through = row.seq; break; }
    }
    const dropped = dropOfSourceThrough.all(sourceId, through);
    for (const row of dropped) failedBytes.add(sourceId, -row.size);
    droppedBySize += dropped.length;
  }
}

/** Whether the rows from `from` to `to` share their source and minute (a request's always do), so one count covers them. */
function sameSourceAndMinute(events: WriterRows, from: number, to: number): boolean {
  const sourceId = events[from];
  const minute = Math.floor((events[from + 2] as number) / 60_000);
  for (let row = from + EVENT_WIDTH; row < to; row += EVENT_WIDTH) {
    if (events[row] !== sourceId || Math.floor((events[row + 2] as number) / 60_000) !== minute) return false;
  }
  return true;
}

const commitIngest = db.transaction((request: IngestCommit): number[] => {
  const { events, segments, failed } = request;
  const tally = new Tally();
  const inserted: number[] = new Array(segments.length);
  let row = 0;
  for (let s = 0; s < segments.length; s++) {
    let count = 0;
    for (const end = row + segments[s] * EVENT_WIDTH; row < end;) {
      const rows = Math.min(ROWS_PER_INSERT, (end - row) / EVENT_WIDTH);
      const next = row + rows * EVENT_WIDTH;
      if (rows > 1 && sameSourceAndMinute(events, row, next)) {
        const changes = insertRows(rows).run(events.slice(row, next)).changes;
        count += changes;
        tally.add(events[row] as string, events[row + 2] as number, 'stored', '', changes);
        tally.add(events[row] as string, events[row + 2] as number, 'duplicate', '', rows - changes);
      } else {
        for (; row < next; row += EVENT_WIDTH) {
          const changes = insertEvent.run(events[row], events[row + 1], events[row + 2], events[row + 3]).changes;
          count += changes;
          tally.add(events[row] as string, events[row + 2] as number, changes === 1 ? 'stored' : 'duplicate');
        }
      }
      row = next;
    }
    inserted[s] = count;
  }
  for (let i = 0; i < failed.length; i += FAILED_WIDTH) {
    const entry = failed[i + 4] as string;
    const size = Buffer.byteLength(entry);
    if (insertFailed.run(failed[i], failed[i + 1], failed[i + 2], failed[i + 3], size, entry).changes === 1) failedBytes.add(failed[i + 1] as string, size);
    tally.add(failed[i + 1] as string, failed[i + 2] as number, 'failed', failed[i + 3] as string);
  }
  tally.write();
  // Every commit: the disk can run short from accepted events too, and failed events give way then.
  if (options.maintain && failedBytes.total > 0) enforceSizeCap();
  return inserted;
});

const commitReplay = db.transaction((request: ReplayCommit): number[] => {
  const { events, replayedIds, stillFailing, atMs } = request;
  const tally = new Tally();
  let entries = 0;
  let stored = 0;
  let duplicates = 0;
  // The events of one entry (a body holds several) are next to each other.
  let entryId: string | undefined;
  let taken = false;
  for (let i = 0, row = 0; row < events.length; i++, row += EVENT_WIDTH) {
    if (replayedIds[i] !== entryId) {
      entryId = replayedIds[i];
      // An entry another replay took meanwhile (or that retention dropped) is left alone.
      taken = markReplayed.run(atMs, entryId).changes === 1;
      if (taken) {
        entries++;
        tally.add(events[row] as string, atMs, 'replayed');
      }
    }
    if (!taken) continue;
    if (insertEvent.run(events[row], events[row + 1], events[row + 2], events[row + 3]).changes === 1) stored++;
    else duplicates++;
  }
  for (let i = 0; i < stillFailing.length; i += STILL_FAILING_WIDTH) {
    const old = sizeOfFailed.get(stillFailing[i] as string);
    if (!old) continue;
    const entry = stillFailing[i + 2] as string;
    const size = Buffer.byteLength(entry);
    updateFailed.run(stillFailing[i + 1], entry, size, stillFailing[i]);
    failedBytes.add(old.sourceId, size - old.size);
  }
  tally.write();
  return [entries, stored, duplicates];
});

/**
 * Expired failed events deleted in one pass at most: a backlog (1.3 million after a lowered
 * retention, or a clock jump) held every commit ~10 s at start while the server said ready. The
 * rest goes in passes soon after, with commits between them.
 */
const MAX_EXPIRED_PER_PASS = 5000;
let nextPass: NodeJS.Timeout | undefined;

/** Drops failed events past their retention, and old per-source counts; runs between commits. */
function maintain(): void {
  try {
    const now = Date.now();
    const cutoff = now - options.failedRetentionMs;
    for (let deleted = 0; ;) {
      const dropped = dropExpiredFailed.all(cutoff, 1000);
      droppedByRetention += dropped.length;
      deleted += dropped.length;
      for (const row of dropped) failedBytes.add(row.sourceId, -row.size);
      if (dropped.length < 1000) break;
      if (deleted >= MAX_EXPIRED_PER_PASS) {
        // (the recount below, a scan of every entry, waits for the last pass)
        clearTimeout(nextPass);
        nextPass = setTimeout(maintain, 20);
        reportDrops();
        return;
      }
    }
    dropOldStats.run(Math.floor((now - STATS_RETENTION_MS) / 60_000));
    // Replays from another process change sizes too: check the total from the index now and then,
    // and count each source again when it is off (the sums by source take longer, and it rarely is).
    if (failedTotal.get()!.bytes !== failedBytes.total) failedBytes.recount(failedBySource.iterate());
    enforceSizeCap();
  } catch {
    // Busy (another process holds the lock) or a transient I/O error: the next pass catches up.
  }
  reportDrops();
}

function reportDrops(): void {
  if (droppedByRetention === 0 && droppedBySize === 0) return;
  parentPort!.postMessage({ kind: 'dropped', retention: droppedByRetention, size: droppedBySize } satisfies WriterReply);
  droppedByRetention = 0;
  droppedBySize = 0;
}

const bytesOf = (rows: WriterRows, width: number, at: number) => {
  let bytes = 0;
  for (let i = at; i < rows.length; i += width) bytes += (rows[i] as string).length;
  return bytes;
};

if (options.maintain) maintain();
const maintenance = options.maintain ? setInterval(maintain, MAINTENANCE_INTERVAL_MS) : undefined;

parentPort!.on('message', async (request: WriterRequest) => {
  if (request.kind === 'close') {
    clearInterval(maintenance);
    clearInterval(fileWatch);
    clearTimeout(nextPass);
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
  // What a transaction counts as it goes; a rolled-back one (COMMIT failed on a full disk) must not
  // leave its counts behind: the size cap would then delete entries of a store under it.
  const counted = { droppedBySize };
  failedBytes.begin();
  try {
    const inserted = request.kind === 'ingest' ? commitIngest(request) : commitReplay(request);
    failedBytes.commit();
    reply = { kind: 'committed', id: request.id, inserted };
  } catch (error) {
    failedBytes.rollback();
    ({ droppedBySize } = counted);
    reply = { kind: 'failed', id: request.id, error: (error as Error).message || String(error) };
  }
  // Checked before the answer: a commit to a file no longer there is not acknowledged.
  if (reply.kind === 'committed' && fileGone()) {
    reply = { kind: 'failed', id: request.id, error: GONE };
    parentPort!.postMessage({ kind: 'gone', error: GONE } satisfies WriterReply);
  }
  parentPort!.postMessage(reply);
  reportDrops();
  if (reply.kind === 'committed') {
    checkpointIfDue(bytesOf(request.events, EVENT_WIDTH, EVENT_WIDTH - 1) + (request.kind === 'ingest' ? bytesOf(request.failed, FAILED_WIDTH, FAILED_WIDTH - 1) : 0));
  }
});
