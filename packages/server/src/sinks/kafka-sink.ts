// The Kafka sink: an idempotent producer (acks=all) writing each event to one topic, laid out by
// toKafkaRecord (key userId ?? anonymousId; headers source-id, event-type, message-id).
//
// Each producer has one produce request in flight at a time, carrying every write that arrived
// while the previous one was on the wire (plus a short linger): concurrent HTTP requests share
// round trips. One at a time because @platformatic/kafka numbers an idempotent batch from the last
// *acknowledged* sequence, so two concurrent sends to one partition would carry the same
// sequence numbers and the broker would reject — or, for equal-sized batches, silently drop as
// a "duplicate" — the second. Round trips overlap instead across a few producers ("lanes"), each
// with its own producer id and so its own sequence numbers. A send whose outcome is unknown
// (error or timeout) retires its producer: the lane's next batch starts under a new producer id
// rather than reuse sequence numbers the broker may already have seen.
import { Admin, Producer, stringSerializers, type MessageToProduce } from '@platformatic/kafka';
import { toKafkaRecord } from '@inlet/schema';
import { SinkUnavailableError } from '../errors.ts';
import type { Sink, StoredEvent } from './sink.ts';

export const KAFKA_COMPRESSIONS = ['lz4', 'gzip', 'snappy', 'none'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** Minimal logger (pino and console both fit). Messages carry counts and reasons, never events. */
export interface SinkLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface KafkaSinkOptions {
  /** bootstrap brokers, `host:port` */
  brokers: string[];
  topic: string;
  /** default `inlet-server` */
  clientId?: string;
  /** a write the brokers have not acknowledged within this is rejected with SinkUnavailableError */
  writeTimeoutMs: number;
  /** how long a write waits for others to share its produce request (default 0: requests of the same event-loop turn, and those that arrive while every producer is busy, share one) */
  lingerMs?: number;
  /** default lz4 (zstd needs Node 22+, which the 1.x client and Node 20 do not give us) */
  compression?: KafkaCompression;
  /** events waiting for Kafka beyond which new writes are refused at once (default 100000) */
  maxPendingEvents?: number;
  /** uncompressed bytes per produce request; kept under the broker's 1 MB batch limit (default 900 KB) */
  maxBatchBytes?: number;
  logger?: SinkLogger;
}

type Message = MessageToProduce<string, string, string, string>;
type StringProducer = Producer<string, string, string, string>;

/** Producers writing at once; a few overlap round trips without many tiny produce requests. */
const LANES = 3;

interface Lane {
  producer: StringProducer | undefined;
  sending: boolean;
}

interface PendingWrite {
  messages: Message[];
  bytes: number;
  queued: boolean;
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve(): void;
  reject(error: Error): void;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const BROKER = /^[^\s:]+:\d{1,5}$/;
/** ready() asks the cluster at most this often; between asks it answers from the last result */
const READY_CACHE_MS = 1000;
const PROBE_TIMEOUT_MS = 1500;

function checkOptions(o: KafkaSinkOptions): Required<Omit<KafkaSinkOptions, 'logger'>> {
  if (!o || typeof o !== 'object') throw new TypeError('KafkaSink: options are required');
  if (!Array.isArray(o.brokers) || o.brokers.length === 0 || !o.brokers.every((b) => typeof b === 'string' && BROKER.test(b))) {
    throw new TypeError(`KafkaSink: brokers must be a non-empty list of host:port, got ${JSON.stringify(o.brokers)}`);
  }
  if (typeof o.topic !== 'string' || !TOPIC_NAME.test(o.topic)) {
    throw new TypeError(`KafkaSink: topic must be 1-249 characters of [a-zA-Z0-9._-], got ${JSON.stringify(o.topic)}`);
  }
  const positive = (name: string, value: unknown, max = Number.MAX_SAFE_INTEGER, min = 1) => {
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw new RangeError(`KafkaSink: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
    return value as number;
  };
  const compression = o.compression ?? 'lz4';
  if (!KAFKA_COMPRESSIONS.includes(compression)) {
    throw new TypeError(`KafkaSink: compression must be one of ${KAFKA_COMPRESSIONS.join(', ')}, got ${String(compression)}`);
  }
  const clientId = o.clientId ?? 'inlet-server';
  if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('KafkaSink: clientId must be a non-empty string');
  return {
    brokers: [...o.brokers],
    topic: o.topic,
    clientId,
    writeTimeoutMs: positive('writeTimeoutMs', o.writeTimeoutMs, 600_000),
    lingerMs: positive('lingerMs', o.lingerMs ?? 0, 1000, 0),
    compression,
    maxPendingEvents: positive('maxPendingEvents', o.maxPendingEvents ?? 100_000),
    maxBatchBytes: positive('maxBatchBytes', o.maxBatchBytes ?? 900_000),
  };
}

/** Closes a producer even with requests in flight; never rejects. */
function forceClose(producer: StringProducer): Promise<void> {
  return new Promise((resolve) => producer.close(true, () => resolve()));
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class KafkaSink implements Sink {
  readonly kind = 'kafka';
  readonly #options: Required<Omit<KafkaSinkOptions, 'logger'>>;
  readonly #logger: SinkLogger;
  readonly #lanes: Lane[] = Array.from({ length: LANES }, () => ({ producer: undefined, sending: false }));
  #admin: Admin | undefined;
  #queue: PendingWrite[] = [];
  #queuedEvents = 0;
  #lingerTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  /** last known reachability, from sends and probes; undefined until the first one */
  #reachable: boolean | undefined;
  #checkedAt = 0;
  #probe: Promise<boolean> | undefined;

  constructor(options: KafkaSinkOptions) {
    this.#options = checkOptions(options);
    this.#logger = options.logger ?? console;
  }

  write(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(new SinkUnavailableError('sink is closed'));
    if (this.#queuedEvents + events.length > this.#options.maxPendingEvents) {
      return Promise.reject(new SinkUnavailableError(`Kafka is behind: ${this.#queuedEvents} events already waiting`));
    }
    const { topic, writeTimeoutMs } = this.#options;
    let bytes = 0;
    const messages = events.map(({ record, json }): Message => {
      const { key, value, headers } = toKafkaRecord(record, json);
      bytes += Buffer.byteLength(key) + Buffer.byteLength(value) + 64; // + headers and record overhead
      return { topic, key, value, headers };
    });
    return new Promise<void>((resolve, reject) => {
      const pending: PendingWrite = {
        messages, bytes, queued: true, settled: false, resolve, reject,
        timer: setTimeout(() => this.#settle(pending, new SinkUnavailableError(`Kafka did not acknowledge within ${writeTimeoutMs} ms`)), writeTimeoutMs),
      };
      this.#queue.push(pending);
      this.#queuedEvents += messages.length;
      this.#schedule();
    });
  }

  async ready(): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#reachable !== undefined && Date.now() - this.#checkedAt < READY_CACHE_MS) return this.#reachable;
    this.#probe ??= this.#probeCluster().finally(() => { this.#probe = undefined; });
    return this.#probe;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Each queued write either goes out now or times out, so this wait is bounded.
    this.#cancelLinger();
    this.#flush();
    if (this.#busy() || this.#queue.length > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await Promise.all([...this.#lanes.map((lane) => lane.producer && forceClose(lane.producer)), this.#admin?.close().catch(() => undefined)]);
    for (const lane of this.#lanes) lane.producer = undefined;
    this.#admin = undefined;
  }

  #settle(write: PendingWrite, error?: Error): void {
    if (write.queued) {
      write.queued = false;
      this.#queuedEvents -= write.messages.length;
      const at = this.#queue.indexOf(write);
      if (at >= 0) this.#queue.splice(at, 1);
    }
    if (write.settled) return;
    write.settled = true;
    clearTimeout(write.timer);
    if (error) write.reject(error);
    else write.resolve();
  }

  #busy(): boolean {
    return this.#lanes.some((lane) => lane.sending);
  }

  #schedule(): void {
    if (this.#lingerTimer || this.#queue.length === 0 || this.#lanes.every((lane) => lane.sending)) return;
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

  #takeBatch(): PendingWrite[] {
    const batch: PendingWrite[] = [];
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      if (batch.length > 0 && bytes + next.bytes > this.#options.maxBatchBytes) break;
      this.#queue.shift();
      next.queued = false;
      this.#queuedEvents -= next.messages.length;
      bytes += next.bytes;
      batch.push(next);
    }
    return batch;
  }

  #flush(): void {
    for (const lane of this.#lanes) {
      if (lane.sending) continue;
      const batch = this.#takeBatch();
      if (batch.length === 0) break;
      this.#send(lane, batch);
    }
    if (!this.#busy() && this.#queue.length === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #send(lane: Lane, batch: PendingWrite[]): void {
    lane.sending = true;
    const producer = (lane.producer ??= this.#createProducer());
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      if (error) this.#retire(lane, producer);
      this.#observe(!error, error);
      for (const write of batch) this.#settle(write, error && new SinkUnavailableError(`Kafka write failed: ${error.message}`, { cause: error }));
      lane.sending = false;
      // Writes that queued up meanwhile have waited long enough: send them without lingering.
      if (this.#queue.length > 0) setImmediate(() => this.#flush());
      else if (!this.#busy()) for (const wake of this.#idleWaiters.splice(0)) wake();
    };
    // The client's own retries could outlast our bound; past it, give up on this producer.
    const deadline = setTimeout(() => finish(new Error(`no acknowledgement within ${this.#options.writeTimeoutMs} ms`)), this.#options.writeTimeoutMs);
    producer.send({ messages: batch.flatMap((w) => w.messages) }).then(() => finish(), (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))));
  }

  #createProducer(): StringProducer {
    const { brokers, clientId, compression, writeTimeoutMs } = this.#options;
    return new Producer({
      clientId,
      bootstrapBrokers: brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: -1, // all in-sync replicas
      compression,
      autocreateTopics: false,
      connectTimeout: Math.min(writeTimeoutMs, 3000),
      timeout: writeTimeoutMs,
      // A moved leader or a restarting broker usually sorts itself out within a second or two.
      retries: 5,
      retryDelay: 200,
    });
  }

  /** Drops a producer whose last batch has an unknown outcome; the lane's next batch gets a new one. */
  #retire(lane: Lane, producer: StringProducer): void {
    if (lane.producer === producer) lane.producer = undefined;
    void forceClose(producer);
  }

  #observe(reachable: boolean, error?: Error): void {
    const was = this.#reachable;
    this.#reachable = reachable;
    this.#checkedAt = Date.now();
    const { topic } = this.#options;
    if (reachable && was === false) this.#logger.info(`kafka sink: topic ${topic} is writable again`);
    if (!reachable && was !== false) this.#logger.warn(`kafka sink: cannot write to topic ${topic}: ${reason(error)}`);
  }

  async #probeCluster(): Promise<boolean> {
    const { brokers, clientId, topic } = this.#options;
    const admin = (this.#admin ??= new Admin({
      clientId: `${clientId}-health`,
      bootstrapBrokers: brokers,
      retries: 0,
      connectTimeout: PROBE_TIMEOUT_MS,
      timeout: PROBE_TIMEOUT_MS,
    }));
    let timer: NodeJS.Timeout | undefined;
    try {
      const metadata = await Promise.race([
        admin.metadata({ topics: [topic], forceUpdate: true }),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no metadata within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS); }),
      ]);
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      if (partitions.length === 0) throw new Error(`topic ${topic} does not exist (create it with \`inlet topics create\`)`);
      this.#observe(true);
      return true;
    } catch (error) {
      // A fresh client next time: the old one may hold connections to a broker that is gone.
      if (this.#admin === admin) this.#admin = undefined;
      admin.close().catch(() => undefined);
      this.#observe(false, error instanceof Error ? error : new Error(String(error)));
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
