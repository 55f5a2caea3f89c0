// Sending batches of records on idempotent producers, and what happens to a producer after a send
// whose outcome is unknown. Used by the server's Kafka sink and the Node SDK's Kafka transport.
//
// Two ways to have several sends in flight:
// - 'pipelined' (the default): one producer, up to PIPELINE_DEPTH sends at once. Since
//   @platformatic/kafka 2.3.0 (#310) each send takes its sequence numbers when it is sent, so
//   concurrent sends to one partition carry distinct sequences; with 1.x the second of two equal
//   batches was acknowledged and silently dropped as a duplicate (upstream issue 326;
//   test/in-flight.integration.test.ts). The client keeps one request per broker connection on
//   the wire for an idempotent producer (it sets maxInflights to 1), so the next batch is
//   serialised while the previous one is on the wire and leaves as soon as that one is answered:
//   serialisation overlaps round trips; round trips do not overlap each other.
// - 'lanes': LANES producers with one send in flight each. Each has its own producer id and its
//   own connections, so round trips overlap. This was the workaround for issue 326 with 1.x; it is
//   kept so the benchmark can compare the two (bench/kafka-sink.ts).
//
// The rule: a send that failed, or outlived its deadline, has an unknown outcome — the brokers may
// have written it. Its producer is retired: closed at once (other sends still in flight on it fail
// too, and are equally unknown) and replaced by a new one, with a new producer id, on the next
// send. A producer whose send we gave up on may still be retrying it, and every later request on
// its connection would wait behind that one. Callers treat an unknown outcome as "not stored":
// the client retries with the same messageIds and the processor drops what arrives twice.
import type { MessageToProduce } from '@platformatic/kafka';
import { checkIdempotentProducerOptions, createIdempotentProducer, forceClose, type IdempotentProducerOptions, type IdempotentProducer } from './clients.ts';
import { sendMode, type SendMode } from '@inlet/kafka/contract';
import { checkSetting } from '@inlet/schema/settings';

/** A record to send: the value as a string or as its UTF-8 bytes (written as they are). */
export type WriterMessage = MessageToProduce<string, string | Buffer, string, string>;

/**
 * Sends in flight on the one producer in 'pipelined' mode. Two keep the wire busy (one answered
 * while the next is serialised and queued); more would only cut what is waiting into smaller
 * batches, since the client sends one request at a time per connection anyway.
 */
export const PIPELINE_DEPTH = 2;
/** Producers in 'lanes' mode: a few overlap round trips without many tiny produce requests. */
export const LANES = 3;

export interface KafkaWriterOptions extends IdempotentProducerOptions {
  /** default 'pipelined'; 'lanes' is there for the benchmark to compare */
  mode?: SendMode;
}

interface Slot {
  producer: IdempotentProducer | undefined;
  inFlight: number;
  capacity: number;
}

/**
 * Checks a writer's options (InvalidSettingError) without building one, and says how many sends it
 * keeps in flight: for a caller that runs the writer on another thread and must know both up front.
 */
export function checkWriterOptions(options: KafkaWriterOptions): { mode: SendMode; maxInFlight: number } {
  const mode = checkSetting('mode', sendMode.default('pipelined'), options?.mode);
  checkIdempotentProducerOptions(options);
  return { mode, maxInFlight: mode === 'lanes' ? LANES : PIPELINE_DEPTH };
}

export class KafkaWriter {
  readonly mode: SendMode;
  /** sends that may be in flight at once; send() refuses more */
  readonly maxInFlight: number;
  readonly #options: IdempotentProducerOptions;
  readonly #slots: Slot[];
  #inFlight = 0;
  #closed = false;

  /** Throws an InvalidSettingError for bad options, before anything connects. */
  constructor(options: KafkaWriterOptions) {
    const { mode, maxInFlight } = checkWriterOptions(options);
    this.mode = mode;
    this.maxInFlight = maxInFlight;
    this.#options = options;
    this.#slots = mode === 'lanes'
      ? Array.from({ length: LANES }, () => ({ producer: undefined, inFlight: 0, capacity: 1 }))
      : [{ producer: undefined, inFlight: 0, capacity: PIPELINE_DEPTH }];
    // The client connects on the first send.
    this.#slots[0].producer = createIdempotentProducer(options);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Sends one batch. Resolves once every record is acknowledged by all in-sync replicas. Rejects
   * with the client's error, or an Error saying so when `deadlineMs` passed first: either way the
   * outcome is unknown and the producer that carried it has been retired.
   */
  send(messages: WriterMessage[], deadlineMs?: number): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the Kafka writer is closed'));
    const slot = this.#slots.find((s) => s.inFlight < s.capacity);
    if (slot === undefined) return Promise.reject(new Error(`already ${this.#inFlight} sends in flight (at most ${this.maxInFlight})`));
    const producer = (slot.producer ??= createIdempotentProducer(this.#options));
    slot.inFlight++;
    this.#inFlight++;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        slot.inFlight--;
        this.#inFlight--;
        if (error === undefined) return resolve();
        this.#retire(slot, producer);
        reject(error);
      };
      // The client's own retries can outlast any bound of ours; past the deadline we stop waiting.
      const timer = deadlineMs === undefined ? undefined : setTimeout(() => finish(new Error(`no acknowledgement within ${deadlineMs} ms`)), deadlineMs);
      producer.send({ messages }).then(() => finish(), (error: unknown) => finish(error instanceof Error ? error : new Error(String(error))));
    });
  }

  /** Closes every producer at once; sends still in flight fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const producers = this.#slots.map((slot) => slot.producer).filter((p): p is IdempotentProducer => p !== undefined);
    for (const slot of this.#slots) slot.producer = undefined;
    await Promise.all(producers.map(forceClose));
  }

  #retire(slot: Slot, producer: IdempotentProducer): void {
    if (slot.producer === producer) slot.producer = undefined;
    void forceClose(producer);
  }
}
