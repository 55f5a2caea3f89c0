import { Worker } from 'node:worker_threads';
import { mkdirSync } from 'node:fs';
import { SinkUnavailableError } from '../errors.ts';
import type { Sink, StoredEvent } from './sink.ts';
import { ROW_WIDTH, type WriterReply, type WriterRows } from './writer-protocol.ts';
import { databaseFile } from './sqlite-schema.ts';

export interface EmbeddedSinkOptions {
  dataDir: string;
  /** a write not committed within this gets SinkUnavailableError (the commit may still land; retries are deduplicated) */
  writeTimeoutMs: number;
  /** events waiting for the disk beyond which new writes are refused rather than buffered */
  maxPendingEvents?: number;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * SQLite in the data directory, written by one worker thread. Group commit: while one transaction
 * is on its way to disk, every write that arrives joins the next one, so a burst of concurrent
 * requests costs one fsync, not one each.
 */
export class EmbeddedSink implements Sink {
  readonly kind = 'embedded';
  private readonly worker: Worker;
  private readonly writeTimeoutMs: number;
  private readonly maxPendingEvents: number;
  private nextRows: WriterRows = [];
  private nextWaiters: Waiter[] = [];
  private inFlight = new Map<number, Waiter[]>();
  private nextId = 1;
  private failed: Error | undefined;
  private closed = false;

  constructor(options: EmbeddedSinkOptions) {
    if (!(options.writeTimeoutMs > 0)) throw new TypeError('EmbeddedSink: writeTimeoutMs must be positive');
    mkdirSync(options.dataDir, { recursive: true });
    this.writeTimeoutMs = options.writeTimeoutMs;
    this.maxPendingEvents = options.maxPendingEvents ?? 200_000;
    this.worker = new Worker(new URL('./sqlite-writer.worker.js', import.meta.url), { workerData: { file: databaseFile(options.dataDir) } });
    this.worker.on('message', (reply: WriterReply) => this.onReply(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => { if (!this.closed) this.fail(new Error(`SQLite writer exited with code ${code}`)); });
  }

  write(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.failed) return Promise.reject(new SinkUnavailableError(this.failed.message));
    if (this.closed) return Promise.reject(new SinkUnavailableError('sink is closed'));
    if (this.nextRows.length / ROW_WIDTH + events.length > this.maxPendingEvents) {
      return Promise.reject(new SinkUnavailableError('the disk is behind; too many events waiting'));
    }
    // The events of one request share receivedAt: parse it once, not per event.
    let receivedAt = '';
    let receivedAtMs = 0;
    for (const { record, json } of events) {
      if (record.receivedAt !== receivedAt) {
        receivedAt = record.receivedAt;
        receivedAtMs = Date.parse(receivedAt);
      }
      this.nextRows.push(record.sourceId, record.messageId, receivedAtMs, json);
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SinkUnavailableError(`not committed within ${this.writeTimeoutMs} ms`)), this.writeTimeoutMs);
      this.nextWaiters.push({
        resolve: () => { clearTimeout(timer); resolve(); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      if (this.inFlight.size === 0) this.commitNext();
    });
  }

  private commitNext(): void {
    if (this.nextWaiters.length === 0) return;
    const id = this.nextId++;
    this.inFlight.set(id, this.nextWaiters);
    this.worker.postMessage({ id, rows: this.nextRows });
    this.nextRows = [];
    this.nextWaiters = [];
  }

  private onReply(reply: WriterReply): void {
    const waiters = this.inFlight.get(reply.id) ?? [];
    this.inFlight.delete(reply.id);
    if (reply.ok) for (const w of waiters) w.resolve();
    else for (const w of waiters) w.reject(new SinkUnavailableError(reply.error));
    this.commitNext();
  }

  private fail(error: Error): void {
    this.failed = error;
    const all = [...[...this.inFlight.values()].flat(), ...this.nextWaiters];
    this.inFlight.clear();
    this.nextWaiters = [];
    this.nextRows = [];
    for (const w of all) w.reject(new SinkUnavailableError(error.message));
  }

  async ready(): Promise<boolean> {
    return !this.failed && !this.closed;
  }

  /** Waits for every write already accepted, then stops the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    while ((this.inFlight.size > 0 || this.nextWaiters.length > 0) && !this.failed) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
    if (this.failed) { await this.worker.terminate(); return; }
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage('close');
    await exited;
  }
}
