// The main thread's side of the database writer: gathers the writes of concurrent requests into
// group commits for the writer thread, and tells each request when its part is on disk.
import { Worker } from 'node:worker_threads';
import { SinkUnavailableError } from '../errors.ts';
import type { FailedRecord } from '../failed/failed-event.ts';
import type { StoredEvent } from '../sinks/sink.ts';
import { letWorkersSizeTheirHeaps } from '../worker-heaps.ts';
import { databaseFile, privateDataDir } from './database.ts';
import { EVENT_WIDTH, FAILED_WIDTH, type ReplayCommit, type WriterOptions, type WriterReply, type WriterRequest, type WriterRows } from './writer-protocol.ts';

/**
 * The writer thread's young generation, as a worker's resourceLimits count it (three semi-spaces:
 * 16 MB ones). What the writer holds lives for one group commit.
 */
export const WRITER_YOUNG_GENERATION_MB = 48;

export interface DatabaseWriterOptions {
  dataDir: string;
  /** a write not committed within this gets SinkUnavailableError (the commit may still land; retries are deduplicated) */
  writeTimeoutMs: number;
  /** events waiting for the disk beyond which new writes are refused rather than buffered */
  maxPendingEvents?: number;
  /** failed events older than this many days are deleted (default 7) */
  failedRetentionDays?: number;
  /** failed events beyond this many bytes are deleted: the oldest of the source holding the most first (default 1 GiB) */
  failedMaxBytes?: number;
  /** apply retention and the size cap (default true; a command that does not know the server's settings passes false) */
  maintain?: boolean;
  /** told how many failed events retention and the size cap dropped */
  onDropped?(counts: { retention: number; size: number }): void;
  /** where the writer says it stopped taking writes (its thread ended, the file is gone) */
  logger?: { error(message: string): void };
}

export interface Written {
  /** events of this write that were already stored (same source and messageId) */
  duplicates: number;
}

/** A failed entry replayed: the event it is stored as now, and the entry it came from. */
export interface ReplayedEvent {
  failedId: string;
  event: StoredEvent;
}

/** A failed entry that still fails: its new reason and JSON. */
export interface StillFailing {
  failedId: string;
  record: FailedRecord;
}

interface Waiter {
  resolve(inserted: number): void;
  reject(error: Error): void;
}

interface Solo {
  request: ReplayCommit;
  resolve(inserted: number[]): void;
  reject(error: Error): void;
}

const MIN_RESTART_DELAY_MS = 1000;
/** a thread that lasted this long was not failing on start: the next restart waits the least again */
const LASTED_MS = 30_000;
const MAX_RESTART_DELAY_MS = 30_000;

export const DEFAULT_FAILED_RETENTION_DAYS = 7;
export const DEFAULT_FAILED_MAX_BYTES = 1024 ** 3;

/**
 * One worker thread owns the write connection. Group commit: while one transaction is on its way
 * to disk, every write that arrives joins the next one, so a burst of concurrent requests costs
 * one fsync, not one each. Replay chunks are committed on their own, between group commits.
 */
export class DatabaseWriter {
  private worker: Worker;
  private readonly workerData: WriterOptions;
  /** after the thread ended unasked: when the next one starts, and how long the one after waits */
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = MIN_RESTART_DELAY_MS;
  /** the database file is no longer the one opened: refused for good */
  private fileGone = false;
  /** the file the first thread opened */
  private opened: WriterOptions['expected'];
  /** when the current thread started; a restart's wait resets only once a thread has lasted */
  private startedAt = 0;
  private readonly logger: DatabaseWriterOptions['logger'];
  private readonly writeTimeoutMs: number;
  private readonly maxPendingEvents: number;
  private readonly onDropped: DatabaseWriterOptions['onDropped'];
  private nextEvents: WriterRows = [];
  private nextFailed: WriterRows = [];
  private nextSegments: number[] = [];
  private nextWaiters: Waiter[] = [];
  private solos: Solo[] = [];
  private inFlight: { id: number; waiters: Waiter[] } | { id: number; solo: Solo } | undefined;
  private nextId = 1;
  private commitsPosted = 0;
  private failure: Error | undefined;
  private closed = false;
  private readonly committedListeners = new Set<() => void>();
  /** when a commit last failed (or did not land within the write timeout), and last landed (ms) */
  private failedAt = -Infinity;
  private committedAt = -Infinity;

  constructor(options: DatabaseWriterOptions) {
    if (!(options.writeTimeoutMs > 0)) throw new TypeError('DatabaseWriter: writeTimeoutMs must be positive');
    privateDataDir(options.dataDir);
    this.writeTimeoutMs = options.writeTimeoutMs;
    this.maxPendingEvents = options.maxPendingEvents ?? 200_000;
    this.onDropped = options.onDropped;
    this.logger = options.logger;
    this.workerData = {
      file: databaseFile(options.dataDir),
      failedRetentionMs: (options.failedRetentionDays ?? DEFAULT_FAILED_RETENTION_DAYS) * 24 * 3600_000,
      failedMaxBytes: options.failedMaxBytes ?? DEFAULT_FAILED_MAX_BYTES,
      maintain: options.maintain ?? true,
    };
    this.worker = this.startWorker();
  }

  private startWorker(): Worker {
    letWorkersSizeTheirHeaps();
    const worker = new Worker(new URL('./writer.worker.js', import.meta.url), {
      workerData: { ...this.workerData, expected: this.opened } satisfies WriterOptions,
      resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB },
    });
    this.startedAt = Date.now();
    worker.on('message', (reply: WriterReply) => { if (worker === this.worker) this.onReply(reply); });
    worker.on('error', (error) => { if (worker === this.worker) this.fail(error); });
    worker.on('exit', (code) => {
      if (worker !== this.worker || this.closed || this.fileGone) return;
      this.fail(this.failure ?? new Error(`SQLite writer exited with code ${code}`));
      const delay = this.restartSoon();
      this.logger?.error(`the SQLite writer thread ended (${this.failure!.message}); writes are refused until it is started again in ${delay} ms`);
    });
    return worker;
  }

  /**
   * A thread that ended unasked (an error nothing caught, out of memory) is started again: the
   * database is as its last commit left it, the writes it held were refused (their clients retry;
   * a commit that did land stores each event once), and refusing every write until the process is
   * restarted would leave the store down while the process looks alive. Waits double while
   * threads keep failing, up to MAX_RESTART_DELAY_MS.
   */
  private restartSoon(): number {
    if (this.restartTimer) return this.restartDelayMs;
    if (Date.now() - this.startedAt > LASTED_MS) this.restartDelayMs = MIN_RESTART_DELAY_MS;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, delay * 2);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closed || this.fileGone) return;
      this.failure = undefined;
      this.worker = this.startWorker();
    }, delay);
    this.restartTimer.unref();
    return delay;
  }

  /** Stores accepted events and failed events of one request in the next group commit. */
  write(events: readonly StoredEvent[], failed: readonly FailedRecord[] = []): Promise<Written> {
    if (events.length === 0 && failed.length === 0) return Promise.resolve({ duplicates: 0 });
    const refused = this.refusal(events.length + failed.length);
    if (refused) return Promise.reject(refused);
    pushEvents(this.nextEvents, events);
    for (const { entry, json } of failed) this.nextFailed.push(entry.id, entry.sourceId, Date.parse(entry.receivedAt), entry.reason, json);
    const count = events.length;
    this.nextSegments.push(count);
    // The closures below name `count`, not `events`: what they capture lives until the commit.
    return new Promise<Written>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.failedAt = Date.now();
        reject(new SinkUnavailableError(`not committed within ${this.writeTimeoutMs} ms`));
      }, this.writeTimeoutMs);
      this.nextWaiters.push({
        resolve: (inserted) => { clearTimeout(timer); resolve({ duplicates: count - inserted }); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      if (!this.inFlight) this.commitNext();
    });
  }

  /**
   * One chunk of a replay, in its own transaction: each replayed event is stored (once, whatever
   * happened before) and its failed entry marked replayed; entries that still fail get their new reasons.
   */
  replay(replayed: readonly ReplayedEvent[], stillFailing: readonly StillFailing[], atMs = Date.now()): Promise<{ entries: number; stored: number; duplicates: number }> {
    const refused = this.refusal(0);
    if (refused) return Promise.reject(refused);
    const events: WriterRows = [];
    pushEvents(events, replayed.map((r) => r.event));
    const failedRows: WriterRows = [];
    for (const { failedId, record } of stillFailing) failedRows.push(failedId, record.entry.reason, record.json);
    const request: ReplayCommit = { kind: 'replay', id: 0, events, replayedIds: replayed.map((r) => r.failedId), stillFailing: failedRows, atMs };
    return new Promise((resolve, reject) => {
      this.solos.push({ request, resolve: ([entries, stored, duplicates]) => resolve({ entries, stored, duplicates }), reject });
      if (!this.inFlight) this.commitNext();
    });
  }

  /**
   * Tells `listener` after each commit that stored anything (readers then read what is new, by
   * position, instead of polling the tables). Returns the unsubscribe function.
   */
  onCommitted(listener: () => void): () => void {
    this.committedListeners.add(listener);
    return () => { this.committedListeners.delete(listener); };
  }

  /** Why a write of `events` (accepted and failed) cannot be taken now, if it cannot. */
  private refusal(events: number): Error | undefined {
    if (this.failure) return new SinkUnavailableError(this.failure.message);
    if (this.closed) return new SinkUnavailableError('the embedded store is closed');
    const waiting = this.nextEvents.length / EVENT_WIDTH + this.nextFailed.length / FAILED_WIDTH;
    if (waiting + events > this.maxPendingEvents) return new SinkUnavailableError('the disk is behind; too many events waiting');
    return undefined;
  }

  private commitNext(): void {
    const id = this.nextId++;
    const solo = this.solos.shift();
    if (solo) {
      this.inFlight = { id, solo };
      this.post({ ...solo.request, id });
      return;
    }
    if (this.nextWaiters.length === 0) return;
    this.inFlight = { id, waiters: this.nextWaiters };
    this.post({ kind: 'ingest', id, events: this.nextEvents, segments: this.nextSegments, failed: this.nextFailed });
    this.nextEvents = [];
    this.nextFailed = [];
    this.nextSegments = [];
    this.nextWaiters = [];
  }

  private post(request: WriterRequest): void {
    this.worker.postMessage(request);
    if (request.kind !== 'close') this.commitsPosted++;
  }

  /** transactions handed to the writer thread so far (group commits and replay chunks) */
  get commits(): number {
    return this.commitsPosted;
  }

  private onReply(reply: WriterReply): void {
    if (reply.kind === 'dropped') {
      this.onDropped?.({ retention: reply.retention, size: reply.size });
      return;
    }
    if (reply.kind === 'opened') {
      this.opened ??= { dev: reply.dev, ino: reply.ino };
      return;
    }
    if (reply.kind === 'gone') {
      if (this.fileGone) return;
      this.fileGone = true;
      this.logger?.error(reply.error);
      this.fail(new Error(reply.error));
      // It holds the deleted file open (its space not freed) and would go on checkpointing it.
      void this.worker.terminate();
      return;
    }
    const done = this.inFlight;
    if (!done || done.id !== reply.id) return;
    this.inFlight = undefined;
    if (reply.kind === 'committed') this.committedAt = Date.now();
    else this.failedAt = Date.now();
    if ('solo' in done) {
      if (reply.kind === 'committed') done.solo.resolve(reply.inserted);
      else done.solo.reject(new SinkUnavailableError(reply.error));
    } else if (reply.kind === 'committed') {
      done.waiters.forEach((w, i) => w.resolve(reply.inserted[i]));
    } else {
      for (const w of done.waiters) w.reject(new SinkUnavailableError(reply.error));
    }
    this.commitNext();
    if (reply.kind === 'committed') for (const listener of this.committedListeners) listener();
  }

  private fail(error: Error): void {
    // (an error from a thread can arrive without its message)
    const failure = error.message ? error : new Error(`SQLite writer failed: ${String(error)}`);
    this.failure = failure;
    this.failedAt = Date.now();
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    const waiters = [...(inFlight && 'waiters' in inFlight ? inFlight.waiters : []), ...this.nextWaiters];
    const solos = [...(inFlight && 'solo' in inFlight ? [inFlight.solo] : []), ...this.solos];
    this.nextWaiters = [];
    this.solos = [];
    this.nextEvents = [];
    this.nextFailed = [];
    this.nextSegments = [];
    for (const w of waiters) w.reject(new SinkUnavailableError(failure.message));
    for (const s of solos) s.reject(new SinkUnavailableError(failure.message));
  }

  /**
   * Whether the writer's last outcome was a commit. After a failed one (a full disk, an I/O error)
   * it is not ready until a commit lands — or, once a write timeout has passed with no new failure,
   * it says ready again so traffic comes back to find out (the disk-space check keeps a full disk
   * out of that).
   */
  ready(): boolean {
    if (this.failure || this.closed) return false;
    return this.committedAt > this.failedAt || Date.now() - this.failedAt > this.writeTimeoutMs;
  }

  /** Waits for every write already accepted, then stops the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    while ((this.inFlight || this.nextWaiters.length > 0 || this.solos.length > 0) && !this.failure) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
    clearTimeout(this.restartTimer);
    if (this.failure) { await this.worker.terminate(); return; }
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.post({ kind: 'close' });
    await exited;
  }
}

function pushEvents(rows: WriterRows, events: readonly StoredEvent[]): void {
  // The events of one request share receivedAt: parse it once, not per event.
  let receivedAt = '';
  let receivedAtMs = 0;
  for (const { record, json } of events) {
    if (record.receivedAt !== receivedAt) {
      receivedAt = record.receivedAt;
      receivedAtMs = Date.parse(receivedAt);
    }
    rows.push(record.sourceId, record.messageId, receivedAtMs, json);
  }
}
