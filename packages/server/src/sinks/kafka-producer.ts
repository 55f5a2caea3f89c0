// The main thread's side of the Kafka sink's producer thread (kafka-producer-thread.ts): sends as
// @inlet/kafka's KafkaWriter makes them — a few in flight, each acknowledged by all in-sync
// replicas or failed with an unknown outcome — with the records handed over as flat rows.
//
// A thread that dies, or does not answer a send well past its deadline, fails every send it holds:
// their outcome is unknown, as a retired producer's is, and the sink answers 503 (the clients
// retry with the same messageIds; the processor drops what arrives twice). The next send starts a
// new thread.
import { Worker } from 'node:worker_threads';
import { checkWriterOptions } from '@inlet/kafka';
import { letWorkersSizeTheirHeaps } from '../worker-heaps.ts';
import { packValues, type KafkaRows, type ProducerThreadOptions, type ProducerThreadReply, type ProducerThreadRequest } from './kafka-producer-protocol.ts';

/** Hears of a thread that died or was stopped (counts and reasons, never records). */
export interface ProducerThreadLogger {
  warn(message: string): void;
}

/**
 * The producer thread's young generation, as a worker's resourceLimits count it (three 16 MB
 * semi-spaces). What it holds lives until an acknowledgement, ~100 ms under load.
 */
export const PRODUCER_YOUNG_GENERATION_MB = 48;
/** How long past a send's own deadline the thread may take to report it before it counts as stuck. */
const STUCK_AFTER_MS = 2000;
/** How long close() lets the thread close its producers before stopping it. */
const CLOSE_WAIT_MS = 5000;

interface Send {
  worker: Worker;
  timer: NodeJS.Timeout;
  resolve(): void;
  reject(error: Error): void;
}

export class ProducerThread {
  /** sends that may be in flight at once; send() refuses more */
  readonly maxInFlight: number;
  readonly #options: ProducerThreadOptions;
  readonly #logger: ProducerThreadLogger | undefined;
  /** (not #private: a test stops it the way a crash would) */
  private worker: Worker | undefined;
  readonly #sends = new Map<number, Send>();
  #nextId = 1;
  #closed = false;

  /** Throws an InvalidSettingError for bad writer options, before any thread starts. */
  constructor(options: ProducerThreadOptions, logger?: ProducerThreadLogger) {
    this.maxInFlight = checkWriterOptions(options.writer).maxInFlight;
    this.#options = options;
    this.#logger = logger;
    // Started now, so that the first request does not wait for a thread to load the client.
    this.worker = this.#start();
  }

  get inFlight(): number {
    return this.#sends.size;
  }

  /**
   * Resolves once every record of `writes` is acknowledged; rejects when the outcome is unknown.
   * `valueBytes`: the UTF-8 length of their values (toKafkaRows); the rows are the thread's now.
   */
  send(writes: KafkaRows[], valueBytes: number, deadlineMs: number): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the Kafka producer thread is closed'));
    if (this.#sends.size >= this.maxInFlight) return Promise.reject(new Error(`already ${this.#sends.size} sends in flight (at most ${this.maxInFlight})`));
    const id = this.#nextId++;
    let worker: Worker;
    try {
      worker = (this.worker ??= this.#start());
      // Posted here, outside the closures below, so nothing on this thread keeps the rows while the
      // send waits for its acknowledgement; the values' buffer moves to the thread.
      const values = packValues(writes, valueBytes);
      worker.postMessage({ kind: 'send', id, writes, values, deadlineMs } satisfies ProducerThreadRequest, [values]);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const waitMs = deadlineMs + STUCK_AFTER_MS;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(worker, new Error(`the Kafka producer thread was stopped: a send had no answer within ${waitMs} ms`)), waitMs);
      this.#sends.set(id, { worker, timer, resolve, reject });
    });
  }

  /** Closes the producer; sends still in flight fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.worker;
    if (worker === undefined) return;
    // 'exit' whatever happens in the thread ('error' first, too); the sends it still held fail then.
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const timer = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
    timer.unref();
    try {
      worker.postMessage({ kind: 'close' } satisfies ProducerThreadRequest);
    } catch {
      void worker.terminate();
    }
    await exited;
    clearTimeout(timer);
  }

  #start(): Worker {
    letWorkersSizeTheirHeaps();
    const worker = new Worker(new URL('./kafka-producer.worker.js', import.meta.url), {
      workerData: this.#options,
      resourceLimits: { maxYoungGenerationSizeMb: PRODUCER_YOUNG_GENERATION_MB },
    });
    worker.on('message', (reply: ProducerThreadReply) => this.#settle(reply));
    worker.on('error', (error) => this.#fail(worker, error));
    worker.on('exit', (code) => this.#fail(worker, new Error(`the Kafka producer thread exited with code ${code}`)));
    return worker;
  }

  #settle(reply: ProducerThreadReply): void {
    const send = this.#sends.get(reply.id);
    if (send === undefined) return;
    this.#sends.delete(reply.id);
    clearTimeout(send.timer);
    if (reply.kind === 'sent') send.resolve();
    else send.reject(new Error(reply.error));
  }

  /** The thread is gone or stuck: each send it holds has an unknown outcome. */
  #fail(worker: Worker, error: Error): void {
    if (this.worker === worker) {
      this.worker = undefined;
      if (!this.#closed) this.#logger?.warn(`kafka producer thread stopped (the next send starts another): ${error.message}`);
      void worker.terminate();
    }
    for (const [id, send] of this.#sends) {
      if (send.worker !== worker) continue;
      this.#sends.delete(id);
      clearTimeout(send.timer);
      send.reject(error);
    }
  }
}
