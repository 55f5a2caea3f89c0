// Groups prepared events into batches that respect the server's limits, sends them through a
// transport with bounded concurrency, retries with backoff, and keeps the whole buffer bounded.
//
// Batches are formed as events arrive (no per-event queue to shift through later), and each gets
// an increasing id. flush() waits until every batch up to the newest one at the time of the call
// has settled (delivered or dropped); since batches settle out of order, the "watermark" is the
// oldest batch not yet settled.
import type { Settings } from './settings.ts';
import type { SendOutcome, Transport } from './transports/transport.ts';
import { retryDelay } from './backoff.ts';

export type DropReason =
  | 'invalid' // bad arguments or an event the schema refuses
  | 'too-large' // one event over maxEventBytes
  | 'queue-full' // the buffer is at maxQueueSize / maxQueueBytes
  | 'rejected' // the server (or broker) refused it; not retried
  | 'retries-exhausted'
  | 'closed' // tracked after shutdown()
  | 'shutdown-timeout'; // still undelivered when shutdown's timeout ran out

export interface DropInfo {
  reason: DropReason;
  count: number;
  /** HTTP status, when a response said so */
  status?: number;
  /** why, without any event payload */
  message?: string;
}

export interface Stats {
  /** events accepted by track() and friends */
  enqueued: number;
  delivered: number;
  dropped: number;
  droppedByReason: Record<DropReason, number>;
  /** events held now: batching, in flight or waiting to retry */
  queued: number;
  queuedBytes: number;
  batchesSent: number;
  retries: number;
  errors: number;
}

export interface PublisherHooks {
  onDrop(info: DropInfo): void;
  onError(error: Error): void;
}

interface Batch<Item> {
  id: number;
  items: Item[];
  bytes: number;
  attempts: number;
  settled: boolean;
  retryTimer: NodeJS.Timeout | undefined;
}

interface Waiter {
  target: number;
  resolve: () => void;
}

export class Publisher<Item> {
  readonly #transport: Transport<Item>;
  readonly #settings: Settings;
  readonly #hooks: PublisherHooks;
  readonly #maxInFlight: number;
  /** every batch not yet settled, oldest first; the open one, if any, is last */
  readonly #pending: Batch<Item>[] = [];
  /** sealed, waiting for a send slot */
  readonly #ready: Batch<Item>[] = [];
  readonly #retrying = new Set<Batch<Item>>();
  readonly #waiters: Waiter[] = [];
  #open: Batch<Item> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #inFlight = 0;
  #held = 0;
  #heldBytes = 0;
  #closed = false;
  readonly #stats = {
    enqueued: 0,
    delivered: 0,
    dropped: 0,
    droppedByReason: { invalid: 0, 'too-large': 0, 'queue-full': 0, rejected: 0, 'retries-exhausted': 0, closed: 0, 'shutdown-timeout': 0 },
    batchesSent: 0,
    retries: 0,
    errors: 0,
  };
  readonly #onFlushTimer = () => {
    this.#flushTimer = undefined;
    this.#seal();
  };

  constructor(transport: Transport<Item>, settings: Settings, hooks: PublisherHooks) {
    this.#transport = transport;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#maxInFlight = transport.maxInFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The hot path: no promise, no closure, no copy. */
  enqueue(item: Item, bytes: number): void {
    if (this.#closed) return this.drop({ reason: 'closed', count: 1, message: 'shutdown() was called' });
    const s = this.#settings;
    if (this.#held >= s.maxQueueSize || this.#heldBytes + bytes > s.maxQueueBytes) {
      return this.drop({ reason: 'queue-full', count: 1, message: `${this.#held} events (${this.#heldBytes} bytes) already buffered` });
    }
    const cost = bytes + this.#transport.itemOverheadBytes;
    let batch = this.#open;
    if (batch !== undefined && batch.bytes + cost > s.maxBatchBytes) {
      this.#seal();
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { id: this.#nextId++, items: [], bytes: 0, attempts: 0, settled: false, retryTimer: undefined };
      this.#open = batch;
      this.#pending.push(batch);
      this.#flushTimer = setTimeout(this.#onFlushTimer, s.flushIntervalMs);
      this.#flushTimer.unref();
    }
    batch.items.push(item);
    batch.bytes += cost;
    this.#held++;
    this.#heldBytes += cost;
    this.#stats.enqueued++;
    if (batch.items.length >= s.maxBatchSize) this.#seal();
  }

  /** Resolves when everything enqueued before the call is delivered or dropped. Never rejects. */
  flush(): Promise<void> {
    this.#seal();
    const target = this.#nextId - 1;
    if (this.#watermark() > target) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push({ target, resolve });
      // Someone is waiting: backoff timers must now keep the process alive, or it could exit mid-flush.
      for (const batch of this.#retrying) batch.retryTimer?.ref();
    });
  }

  /** Stops taking events; what is buffered is still sent by flush(). */
  close(): void {
    this.#closed = true;
  }

  /** Gives up on everything still held (shutdown timed out). */
  abandon(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#open = undefined;
    this.#ready.length = 0;
    for (const batch of [...this.#pending]) {
      if (batch.retryTimer !== undefined) clearTimeout(batch.retryTimer);
      this.#settle(batch, { reason: 'shutdown-timeout', count: batch.items.length, message: 'not delivered before shutdown timed out' });
    }
  }

  stats(): Stats {
    return { ...this.#stats, droppedByReason: { ...this.#stats.droppedByReason }, queued: this.#held, queuedBytes: this.#heldBytes };
  }

  drop(info: DropInfo): void {
    this.#stats.dropped += info.count;
    this.#stats.droppedByReason[info.reason] += info.count;
    this.#hooks.onDrop(info);
  }

  #seal(): void {
    const batch = this.#open;
    if (batch === undefined) return;
    this.#open = undefined;
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    this.#ready.push(batch);
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#ready.length > 0) {
      const batch = this.#ready.shift()!;
      this.#inFlight++;
      this.#attempt(batch);
    }
  }

  #attempt(batch: Batch<Item>): void {
    batch.retryTimer = undefined;
    this.#retrying.delete(batch);
    batch.attempts++;
    this.#stats.batchesSent++;
    this.#transport.send(batch.items).then(
      (outcome) => this.#onOutcome(batch, outcome),
      (error: unknown) => this.#onOutcome(batch, { ok: false, retry: true, message: String(error) }),
    );
  }

  #onOutcome(batch: Batch<Item>, outcome: SendOutcome): void {
    if (batch.settled) return; // abandoned while in flight
    if (outcome.ok) {
      const count = batch.items.length;
      this.#stats.delivered += count - outcome.rejected;
      const drop = outcome.rejected > 0 ? { reason: 'rejected' as const, count: outcome.rejected, message: outcome.message ?? 'refused by the server' } : undefined;
      this.#settle(batch, drop);
      return;
    }
    this.#stats.errors++;
    this.#hooks.onError(new Error(`@inlet/node: sending ${batch.items.length} events failed (attempt ${batch.attempts}): ${outcome.message}`));
    const info = { count: batch.items.length, message: outcome.message, ...(outcome.status === undefined ? {} : { status: outcome.status }) };
    if (outcome.tooLarge && batch.items.length > 1) return this.#split(batch);
    if (!outcome.retry) return this.#settle(batch, { reason: 'rejected', ...info });
    if (batch.attempts > this.#settings.maxRetries) return this.#settle(batch, { reason: 'retries-exhausted', ...info });
    const s = this.#settings;
    // Retry-After lengthens the wait, never shortens it (and is bounded): see retryDelay.
    const delay = retryDelay(batch.attempts, outcome.retryAfterMs, s.minRetryDelayMs, s.maxRetryDelayMs);
    this.#stats.retries++;
    const timer = setTimeout(() => this.#attempt(batch), delay);
    if (this.#waiters.length === 0) timer.unref();
    batch.retryTimer = timer;
    this.#retrying.add(batch);
  }

  /**
   * The server refused the batch for its size (its limits are configurable, so ours may be
   * above them): it goes again as two halves, ahead of the batches waiting, each halved again if
   * refused again. A single event refused for its size is rejected like any other refusal.
   * Both halves keep the batch's id, so flush() waits for both. Only the sum of their bytes
   * matters (the queue's byte bound), so the bytes are shared in proportion to the events.
   */
  #split(batch: Batch<Item>): void {
    const half = Math.ceil(batch.items.length / 2);
    const second: Batch<Item> = {
      id: batch.id,
      items: batch.items.slice(half),
      bytes: Math.round((batch.bytes * (batch.items.length - half)) / batch.items.length),
      attempts: 0,
      settled: false,
      retryTimer: undefined,
    };
    batch.items = batch.items.slice(0, half);
    batch.bytes -= second.bytes;
    // Neither half is in flight now: they wait for a slot like any sealed batch.
    batch.attempts = 0;
    this.#inFlight--;
    this.#pending.splice(this.#pending.indexOf(batch) + 1, 0, second);
    this.#ready.unshift(batch, second);
    this.#pump();
  }

  #settle(batch: Batch<Item>, drop: DropInfo | undefined): void {
    batch.settled = true;
    this.#retrying.delete(batch);
    const count = batch.items.length;
    this.#held -= count;
    this.#heldBytes -= batch.bytes;
    // An abandoned batch may never have been sent; only sent ones hold a slot.
    if (batch.attempts > 0) this.#inFlight--;
    batch.items = [];
    if (drop !== undefined && drop.count > 0) this.drop(drop);
    while (this.#pending.length > 0 && this.#pending[0].settled) this.#pending.shift();
    this.#wake();
    this.#pump();
  }

  #watermark(): number {
    return this.#pending.length > 0 ? this.#pending[0].id : this.#nextId;
  }

  #wake(): void {
    const watermark = this.#watermark();
    let n = 0;
    while (n < this.#waiters.length && this.#waiters[n].target < watermark) n++;
    if (n === 0) return;
    for (const waiter of this.#waiters.splice(0, n)) waiter.resolve();
    if (this.#waiters.length === 0) for (const batch of this.#retrying) batch.retryTimer?.unref();
  }
}
