// Produces straight to the `raw-events` topic, skipping the server. The record must be exactly
// what the server's Kafka sink would write, so validation, normalization and the record layout
// all come from @inlet/schema — the same functions the server calls.
import type { MessageToProduce, Producer } from '@platformatic/kafka';
import { normalizeEvent, toKafkaRecord, validateEvent, type InletEvent } from '@inlet/schema';
import type { TransportSettings } from '../settings.ts';
import type { Prepared, SendOutcome, Transport } from './transport.ts';

type KafkaSettings = Extract<TransportSettings, { kind: 'kafka' }>;
type KafkaModule = typeof import('@platformatic/kafka');
type StringProducer = Producer<string, string, string, string>;
export type KafkaItem = MessageToProduce<string, string, string, string>;

/** Retries inside the client for one send; longer outages are the publisher's backoff. */
const CLIENT_RETRIES = 2;
/** Record-batch framing per record, roughly; counted so batches stay under the broker's 1 MB default. */
const RECORD_OVERHEAD_BYTES = 70;

export class KafkaTransport implements Transport<KafkaItem> {
  readonly kind = 'kafka' as const;
  readonly itemOverheadBytes = RECORD_OVERHEAD_BYTES;
  readonly #settings: KafkaSettings;
  readonly #maxEventBytes: number;
  #kafka: KafkaModule | undefined;
  #producer: StringProducer | undefined;
  #closed = false;

  constructor(settings: KafkaSettings, maxEventBytes: number) {
    this.#settings = settings;
    this.#maxEventBytes = maxEventBytes;
  }

  /**
   * Normalized at track() time: here "received" is the moment the SDK took the event. There is
   * no peer address, so `context.ip` only survives as the IP policy allows (default: dropped).
   */
  prepare(event: InletEvent): Prepared<KafkaItem> {
    const validation = validateEvent(event);
    if (!validation.ok) return { ok: false, reason: 'invalid', message: validation.errors.join('; ') };
    let value: string;
    let record;
    try {
      record = normalizeEvent(validation.event, {
        sourceId: this.#settings.sourceId,
        receivedAtMs: Date.now(),
        ipPolicy: this.#settings.ipPolicy,
      });
      value = JSON.stringify(record);
    } catch (error) {
      return { ok: false, reason: 'invalid', message: `event is not serializable: ${(error as Error).message}` };
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > this.#maxEventBytes) {
      return { ok: false, reason: 'too-large', message: `record is ${bytes} bytes, more than the ${this.#maxEventBytes} allowed` };
    }
    const { key, headers } = toKafkaRecord(record, value);
    return { ok: true, item: { topic: this.#settings.topic, key, value, headers }, bytes: bytes + Buffer.byteLength(key) };
  }

  /** The publisher sends one batch at a time on this transport (see maxInFlight in publisher.ts). */
  async send(items: KafkaItem[]): Promise<SendOutcome> {
    const producer = await this.#client().catch((error: unknown) => error as Error);
    if (producer instanceof Error) return { ok: false, retry: !this.#closed, message: `kafka: ${describe(producer)}` };
    try {
      await producer.send({ messages: items });
      return { ok: true, rejected: 0 };
    } catch (error) {
      // The batch's outcome is unknown; a new producer id keeps the retry from reusing sequences.
      if (this.#producer === producer) this.#producer = undefined;
      producer.close(true, () => undefined);
      // UserError: the request itself is wrong (bad options, record too large); sending it again cannot help.
      const retry = this.#kafka === undefined || !(error instanceof this.#kafka.UserError);
      return { ok: false, retry, message: `kafka: ${describe(error)}` };
    }
  }

  async close(force: boolean): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer === undefined) return;
    try {
      await (force ? producer.close(true) : producer.close());
    } catch {
      // closing is best effort: the batches' outcomes were already reported
    }
  }

  /** The client library is loaded on first use: it costs ~50 MB of RSS that HTTP users should not pay. */
  async #client(): Promise<StringProducer> {
    if (this.#producer !== undefined) return this.#producer;
    this.#kafka ??= await import('@platformatic/kafka');
    if (this.#closed) throw new Error('the Kafka transport is closed');
    const { Producer, ProduceAcks, stringSerializers } = this.#kafka;
    this.#producer ??= new Producer({
      clientId: this.#settings.clientId,
      bootstrapBrokers: this.#settings.brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      retries: CLIENT_RETRIES,
      retryDelay: 250,
      timeout: this.#settings.timeoutMs,
      autocreateTopics: false,
    });
    return this.#producer;
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return `${error.message} (${error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ')})`;
  }
  return error instanceof Error ? error.message : String(error);
}
