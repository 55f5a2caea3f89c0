// The Kafka sink: every event goes to one topic as @inlet/kafka's record contract lays it out (key
// userId ?? anonymousId; headers source-id, event-type, message-id), through @inlet/kafka's
// writer (idempotent producers, acks=all) running on a thread of its own (kafka-producer.ts).
//
// Concurrent HTTP requests share produce requests: a write waits in a queue until a send slot is
// free (plus an optional linger), and then everything queued goes out together. The writer has a
// few sends in flight at once (pipelined on one producer by default, see packages/kafka; here a
// second one only for a queue worth serialising ahead) and retires a producer after a send whose
// outcome is unknown. What this file adds is the bound: a write that Kafka has not acknowledged
// within writeTimeoutMs is refused with SinkUnavailableError (the request gets 503 and its client
// retries), and so is one that would grow the queue past maxPendingEvents.
import {
  brokerList, compression, describeError, kafkaSecurity, MAX_PRODUCE_BYTES, sendMode, TopicProbe, topicName, type Compression, type KafkaSecurity, type SendMode,
} from '@inlet/kafka';
import { checkSettings, integer, rule, text, type Settings } from '@inlet/schema/settings';
import { SinkUnavailableError } from '../errors.ts';
import type { FailedRecord } from '../failed/failed-event.ts';
import { ProducerThread } from './kafka-producer.ts';
import { RECORD_WIDTH, splitKafkaRows, toKafkaRows, type KafkaPart, type KafkaRows } from './kafka-producer-protocol.ts';
import type { Sink, StoredEvent, Written } from './sink.ts';

/** Minimal logger (pino and console both fit). Messages carry counts and reasons, never events. */
export interface SinkLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface KafkaSinkOptions {
  /** bootstrap brokers, `host:port` */
  brokers: string[];
  /** TLS and SASL; the producer thread gets it in its workerData, which nothing logs */
  security?: KafkaSecurity;
  topic: string;
  /** topic for failed events (the server passes `failed-events`): key = source id, headers source-id, reason, failed-id; without it the sink takes no failed events */
  failedTopic?: string;
  /** default `inlet-server` */
  clientId?: string;
  /** a write the brokers have not acknowledged within this is rejected with SinkUnavailableError */
  writeTimeoutMs: number;
  /** how long a write waits for others to share its produce request (default 0: requests of the same event-loop turn, and those that arrive while a send is on the wire, share one; see SEND_AHEAD_MIN_BYTES) */
  lingerMs?: number;
  /** default lz4 */
  compression?: Compression;
  /** events waiting for Kafka beyond which new writes are refused at once (default 100000) */
  maxPendingEvents?: number;
  /** uncompressed bytes per produce request; kept under the broker's 1 MB batch limit (default 900 KB) */
  maxBatchBytes?: number;
  /** for the benchmark only: 'pipelined' (default) or 'lanes' (see @inlet/kafka's writer) */
  sendMode?: SendMode;
  logger?: SinkLogger;
}

type CheckedOptions = Settings<typeof OPTIONS>;

interface PendingWrite {
  /** until it is handed to the producer thread; nothing here holds it after that */
  rows: KafkaRows | undefined;
  /** its values' UTF-8 length */
  valueBytes: number;
  events: number;
  bytes: number;
  queued: boolean;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(): void;
  reject(error: Error): void;
}

const noop = () => {};

/** ready() asks the cluster at most this often; between asks it answers from the last result */
const READY_CACHE_MS = 1000;
const PROBE_TIMEOUT_MS = 1500;
/** Client retries within one send; a moved leader or a restarting broker usually sorts itself out within a second or two. */
const SEND_RETRIES = 5;
/**
 * In 'pipelined' mode a second send goes out while one is on the wire only when this much is
 * waiting. On one connection it cannot leave before the first is answered (one request per
 * connection), so going ahead only overlaps its serialisation, which is worth it for a batch of
 * batches; a few single events would be a produce request, a hand-off and a thread woken for
 * themselves, when waiting lets them join everything else that arrives during the round trip.
 * With several brokers they wait for the slowest of the first send's answers, not their own
 * broker's; on three, the sink alone kept the same write latency (bench/LOG.md, "2026-12-07,
 * 03:15 UTC session").
 */
const SEND_AHEAD_MIN_BYTES = 64 * 1024;

const OPTIONS = {
  brokers: brokerList,
  security: kafkaSecurity.optional(),
  topic: topicName,
  failedTopic: topicName.optional(),
  clientId: text().default('inlet-server'),
  writeTimeoutMs: integer(1, 600_000),
  lingerMs: integer(0, 1000).default(0),
  compression: compression.default('lz4'),
  maxPendingEvents: integer(1).default(100_000),
  // A request larger than this goes out in parts (splitKafkaRows).
  maxBatchBytes: integer(1).default(MAX_PRODUCE_BYTES),
  sendMode: sendMode.default('pipelined'),
  logger: rule((v) => v as SinkLogger).optional(),
};

function checkOptions(o: KafkaSinkOptions): CheckedOptions {
  return checkSettings(OPTIONS, o as unknown as Record<string, unknown>, { label: 'KafkaSink' });
}

export class KafkaSink implements Sink {
  readonly kind = 'kafka';
  readonly #options: CheckedOptions;
  readonly #logger: SinkLogger;
  readonly #writer: ProducerThread;
  readonly #probes: TopicProbe[];
  #queue: PendingWrite[] = [];
  #queuedEvents = 0;
  /** what decides whether a second send is worth starting (SEND_AHEAD_MIN_BYTES) */
  #queuedBytes = 0;
  #lingerTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  /** last known reachability, from sends and probes; undefined until the first one */
  #reachable: boolean | undefined;
  #checkedAt = 0;
  /** when a send last failed, and last succeeded (ms) */
  #sendFailedAt = -Infinity;
  #sendSucceededAt = -Infinity;
  #probing: Promise<boolean> | undefined;
  #sends = 0;

  constructor(options: KafkaSinkOptions) {
    this.#options = checkOptions(options);
    this.#logger = options.logger ?? console;
    const { brokers, security, clientId, compression, writeTimeoutMs, sendMode } = this.#options;
    const topics = this.#options.failedTopic ? [this.#options.topic, this.#options.failedTopic] : [this.#options.topic];
    this.#writer = new ProducerThread({
      writer: {
        brokers,
        security,
        clientId,
        compression,
        mode: sendMode,
        connectTimeoutMs: Math.min(writeTimeoutMs, 3000),
        requestTimeoutMs: writeTimeoutMs,
        retries: SEND_RETRIES,
        retryDelayMs: 200,
      },
      topics,
    }, this.#logger);
    this.#probes = topics.map((topic) => new TopicProbe({ brokers, security, clientId: `${clientId}-health`, topic, timeoutMs: PROBE_TIMEOUT_MS }));
  }

  write(events: readonly StoredEvent[], failed: readonly FailedRecord[] = []): Promise<Written> {
    if (events.length === 0 && failed.length === 0) return Promise.resolve({ duplicates: 0 });
    if (this.#closed) return Promise.reject(new SinkUnavailableError('sink is closed'));
    if (failed.length > 0 && !this.#options.failedTopic) return Promise.reject(new TypeError('KafkaSink: failed events need the failedTopic option'));
    if (this.#queuedEvents + events.length + failed.length > this.#options.maxPendingEvents) {
      return Promise.reject(new SinkUnavailableError(`Kafka is behind: ${this.#queuedEvents} events already waiting`));
    }
    const request = toKafkaRows(events, failed);
    if (request.requestBytes <= this.#options.maxBatchBytes) return this.#enqueue(request);
    // Acknowledged when every part is; a part that fails makes the request's outcome unknown, as a
    // partition's failure does within one produce request.
    const parts = splitKafkaRows(request.rows, this.#options.maxBatchBytes);
    // A record Kafka would refuse is not sent: the broker's refusal would retire the producer that
    // other requests' sends share. (Bounds elsewhere keep records under it: this is the backstop.)
    const alone = parts.find((part) => part.requestBytes > this.#options.maxBatchBytes);
    if (alone) return Promise.reject(new Error(`a record of ${alone.requestBytes} bytes cannot go to Kafka (at most ${this.#options.maxBatchBytes} in one produce request)`));
    return Promise.all(parts.map((part) => this.#enqueue(part))).then(() => ({ duplicates: 0 }));
  }

  #enqueue({ rows, valueBytes, requestBytes }: KafkaPart): Promise<Written> {
    const { writeTimeoutMs } = this.#options;
    // Built outside the closures below, which would otherwise capture the rows until the acknowledgement.
    const pending: PendingWrite = {
      rows, valueBytes, events: rows.length / RECORD_WIDTH, bytes: requestBytes,
      queued: true, settled: false, resolve: noop, reject: noop, timer: undefined,
    };
    const written = new Promise<Written>((resolve, reject) => {
      pending.resolve = () => resolve({ duplicates: 0 });
      pending.reject = reject;
    });
    pending.timer = setTimeout(() => this.#settle(pending, new SinkUnavailableError(`Kafka did not acknowledge within ${writeTimeoutMs} ms`)), writeTimeoutMs);
    this.#queue.push(pending);
    this.#queuedEvents += pending.events;
    this.#queuedBytes += pending.bytes;
    this.#schedule();
    return written;
  }

  /**
   * Whether a write would succeed now, learned first from the sink's own sends: after a failed one
   * (NOT_ENOUGH_REPLICAS, a timeout, no leader) it is not ready until a send succeeds, or — once no
   * send has failed for a write timeout, so traffic a load balancer took away is not needed to
   * recover — a probe finds every partition with a live leader and min.insync.replicas in sync.
   * The hold matters: right after a broker dies the cluster's metadata still lists it in sync for
   * seconds, and a probe alone would say ready while every acks=all write times out.
   */
  async ready(): Promise<boolean> {
    if (this.#closed) return false;
    const now = Date.now();
    if (this.#sendFailedAt > this.#sendSucceededAt && now - this.#sendFailedAt < Math.max(1000, this.#options.writeTimeoutMs)) return false;
    if (this.#reachable !== undefined && now - this.#checkedAt < READY_CACHE_MS) return this.#reachable;
    this.#probing ??= this.#probeCluster().finally(() => { this.#probing = undefined; });
    return this.#probing;
  }

  get batches(): number {
    return this.#sends;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Each queued write goes out now or once the send on the wire is answered, or times out, so this wait is bounded.
    this.#cancelLinger();
    this.#flush();
    if (this.#writer.inFlight > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await Promise.all([this.#writer.close(), ...this.#probes.map((probe) => probe.close())]);
  }

  #settle(write: PendingWrite, error?: Error): void {
    if (write.queued) {
      this.#unqueued(write);
      const at = this.#queue.indexOf(write);
      if (at >= 0) this.#queue.splice(at, 1);
    }
    if (write.settled) return;
    write.settled = true;
    clearTimeout(write.timer);
    if (error) write.reject(error);
    else write.resolve();
  }

  /** Whether the queue waits for a send to be answered before the next one goes out. */
  #full(): boolean {
    const { inFlight, maxInFlight } = this.#writer;
    if (inFlight >= maxInFlight) return true;
    return inFlight > 0 && this.#options.sendMode === 'pipelined' && this.#queuedBytes < Math.min(SEND_AHEAD_MIN_BYTES, this.#options.maxBatchBytes);
  }

  #schedule(): void {
    if (this.#lingerTimer || this.#queue.length === 0 || this.#full()) return;
    const go = () => {
      this.#lingerTimer = undefined;
      this.#flush();
    };
    // With no linger, writes from requests handled in the same event-loop turn still share a send.
    this.#lingerTimer = this.#options.lingerMs === 0 ? setImmediate(go) : setTimeout(go, this.#options.lingerMs);
  }

  #cancelLinger(): void {
    if (this.#lingerTimer === undefined) return;
    if (this.#options.lingerMs === 0) clearImmediate(this.#lingerTimer as NodeJS.Immediate);
    else clearTimeout(this.#lingerTimer as NodeJS.Timeout);
    this.#lingerTimer = undefined;
  }

  /** The queue's counts without `write`, which has just left it (sent, or given up on). */
  #unqueued(write: PendingWrite): void {
    write.queued = false;
    this.#queuedEvents -= write.events;
    this.#queuedBytes -= write.bytes;
  }

  #takeBatch(): PendingWrite[] {
    const batch: PendingWrite[] = [];
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      if (batch.length > 0 && bytes + next.bytes > this.#options.maxBatchBytes) break;
      this.#queue.shift();
      this.#unqueued(next);
      bytes += next.bytes;
      batch.push(next);
    }
    return batch;
  }

  #flush(): void {
    while (!this.#full()) {
      const batch = this.#takeBatch();
      if (batch.length === 0) break;
      this.#send(batch);
    }
    this.#wakeIfIdle();
  }

  #wakeIfIdle(): void {
    if (this.#writer.inFlight === 0 && this.#queue.length === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #send(batch: PendingWrite[]): void {
    const finish = (error?: Error) => {
      if (error) this.#sendFailedAt = Date.now();
      else this.#sendSucceededAt = Date.now();
      this.#observe(!error, error);
      for (const write of batch) this.#settle(write, error && new SinkUnavailableError(`Kafka write failed: ${describeError(error)}`, { cause: error }));
      // Writes that queued up meanwhile have waited long enough: send them without lingering.
      if (this.#queue.length > 0) setImmediate(() => this.#flush());
      else this.#wakeIfIdle();
    };
    const writes = batch.map((w) => w.rows!);
    this.#sends++;
    let valueBytes = 0;
    // Records waiting ~100 ms for their acknowledgement would otherwise survive the main thread's
    // scavenges (each copying them, every request waiting behind it): the thread has them now.
    for (const w of batch) {
      valueBytes += w.valueBytes;
      w.rows = undefined;
    }
    this.#writer.send(writes, valueBytes, this.#options.writeTimeoutMs).then(() => finish(), (error: Error) => finish(error));
  }

  #observe(reachable: boolean, error?: Error): void {
    const was = this.#reachable;
    this.#reachable = reachable;
    this.#checkedAt = Date.now();
    const { topic } = this.#options;
    if (reachable && was === false) this.#logger.info(`kafka sink: topic ${topic} is writable again`);
    if (!reachable && was !== false) this.#logger.warn(`kafka sink: cannot write to topic ${topic}: ${describeError(error)}`);
  }

  async #probeCluster(): Promise<boolean> {
    try {
      await Promise.all(this.#probes.map((probe) => probe.check()));
      this.#observe(true);
      return true;
    } catch (error) {
      this.#observe(false, error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }
}
