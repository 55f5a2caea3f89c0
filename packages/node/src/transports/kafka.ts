// Produces straight to the `raw-events` topic, skipping the server. The record must be exactly
// what the server's Kafka sink would write: validation and normalization come from @inlet/schema,
// the record layout from @inlet/kafka's contract — the functions the server calls.
//
// Only `@inlet/kafka/contract` is imported up front (it does not load the Kafka client). The rest
// of @inlet/kafka, and with it @platformatic/kafka (~50 MB of RSS), is imported on the first send,
// so an application using the HTTP transport never loads the client.
import { toKafkaRecord, type KafkaRecord } from '@inlet/kafka/contract';
import type { KafkaWriter } from '@inlet/kafka';
import { ADDED_BYTES_ALLOWANCE, normalizeEvent, validateEvent, type InletEvent } from '@inlet/schema';
import type { TransportSettings } from '../settings.ts';
import type { Prepared, SendOutcome, Transport } from './transport.ts';

type KafkaSettings = Extract<TransportSettings, { kind: 'kafka' }>;
type KafkaModule = typeof import('@inlet/kafka');

/** Retries inside the client for one send; longer outages are the publisher's backoff. */
const CLIENT_RETRIES = 2;
/** Record-batch framing per record, roughly; counted so batches stay under the broker's 1 MB default. */
const RECORD_OVERHEAD_BYTES = 70;

export class KafkaTransport implements Transport<KafkaRecord> {
  /** One batch at a time: a batch that fails is retried before the next one goes, so one user's events stay in order. */
  readonly maxInFlight = 1;
  readonly itemOverheadBytes = RECORD_OVERHEAD_BYTES;
  readonly #settings: KafkaSettings;
  readonly #maxEventBytes: number;
  #kafka: KafkaModule | undefined;
  #writer: KafkaWriter | undefined;
  #closed = false;

  constructor(settings: KafkaSettings, maxEventBytes: number) {
    this.#settings = settings;
    this.#maxEventBytes = maxEventBytes;
  }

  /**
   * Normalized at track() time: here "received" is the moment the SDK took the event. There is
   * no peer address, so `context.ip` only survives as the IP policy allows (default: dropped).
   */
  prepare(event: InletEvent): Prepared<KafkaRecord> {
    const validation = validateEvent(event);
    if (!validation.ok) return { ok: false, reason: 'invalid', message: validation.errors.join('; ') };
    let value: string;
    let record;
    try {
      record = normalizeEvent(validation.event, {
        sourceId: this.#settings.sourceId,
        receivedAtMs: Date.now(),
        ipPolicy: this.#settings.ipPolicy,
        // As the server treats a server source's events: the address is the one the app says
        // (context.ip), after the IP policy; without this every address was dropped.
        keepClientIp: true,
        // and its time: a back end's clock, taken as given.
        timeAsGiven: true,
      });
      value = JSON.stringify(record);
    } catch (error) {
      return { ok: false, reason: 'invalid', message: `event is not serializable: ${(error as Error).message}` };
    }
    // As the server counts: the event as the app gave it within the limit, its record within the
    // limit and ADDED_BYTES_ALLOWANCE (serializing the event again only when the record is over).
    const bytes = Buffer.byteLength(value);
    if (bytes > this.#maxEventBytes) {
      const sent = Buffer.byteLength(JSON.stringify(event));
      if (sent > this.#maxEventBytes) return { ok: false, reason: 'too-large', message: `event is ${sent} bytes, more than the ${this.#maxEventBytes} allowed` };
      if (bytes > this.#maxEventBytes + ADDED_BYTES_ALLOWANCE) return { ok: false, reason: 'too-large', message: `record is ${bytes} bytes, more than the ${this.#maxEventBytes + ADDED_BYTES_ALLOWANCE} allowed with what is added` };
    }
    const item = toKafkaRecord(record, value);
    return { ok: true, item, bytes: bytes + Buffer.byteLength(item.key) };
  }

  async send(items: KafkaRecord[]): Promise<SendOutcome> {
    let writer: KafkaWriter;
    try {
      writer = await this.#open();
    } catch (error) {
      return { ok: false, retry: !this.#closed, message: `kafka: ${this.#describe(error)}` };
    }
    const { topic } = this.#settings;
    try {
      await writer.send(items.map(({ key, value, headers }) => ({ topic, key, value, headers })));
      return { ok: true, rejected: 0 };
    } catch (error) {
      // The writer has retired the producer (its outcome is unknown); a retry goes out under a new producer id.
      return { ok: false, retry: !this.#kafka!.isRequestError(error), message: `kafka: ${this.#describe(error)}` };
    }
  }

  /** `force` or not, what was in flight has already been reported by the publisher. */
  async close(): Promise<void> {
    this.#closed = true;
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.close();
  }

  async #open(): Promise<KafkaWriter> {
    if (this.#writer !== undefined) return this.#writer;
    this.#kafka ??= await import('@inlet/kafka');
    if (this.#closed) throw new Error('the Kafka transport is closed');
    const { brokers, clientId, timeoutMs, security } = this.#settings;
    this.#writer ??= new this.#kafka.KafkaWriter({ brokers, clientId, security, requestTimeoutMs: timeoutMs, retries: CLIENT_RETRIES, retryDelayMs: 250 });
    return this.#writer;
  }

  #describe(error: unknown): string {
    return this.#kafka ? this.#kafka.describeError(error) : error instanceof Error ? error.message : String(error);
  }
}
