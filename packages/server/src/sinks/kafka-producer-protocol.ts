// Messages between the Kafka sink (main thread) and the thread that runs its producer, and the
// layout of the records they carry: built and packed on the sink's side, read back on the thread's,
// in one file so that the two halves cannot drift apart.
import { HEADERS, partitionKey, type KafkaWriterOptions, type WriterMessage } from '@inlet/kafka';
import type { FailedRecord } from '../failed/failed-event.ts';
import type { StoredEvent } from './sink.ts';

/**
 * Records laid end to end in one flat array (cheaper to copy between threads than an object per
 * record): topic (an index into `topics`), key, value, and the three header values of that topic's
 * records (HEADER_NAMES). The value is the record's JSON while the sink holds the rows; posted to
 * the thread, it is where the value's bytes end in the send's `values` (packValues).
 */
export type KafkaRows = (string | number)[];
export const RECORD_WIDTH = 6;
export const EVENTS_TOPIC_INDEX = 0;
export const FAILED_TOPIC_INDEX = 1;
/** Header names of each topic's records, in row order, by topic index (the failed store reads a failed event's by name). */
const HEADER_NAMES = [[HEADERS.sourceId, HEADERS.eventType, HEADERS.messageId], ['source-id', 'reason', 'failed-id']] as const;

export interface ProducerThreadOptions {
  writer: KafkaWriterOptions;
  /** [accepted events' topic, failed events' topic (or undefined)] */
  topics: (string | undefined)[];
}

/** One produce request: the rows of each write that shares it, acknowledged together. */
export interface SendRequest {
  kind: 'send';
  id: number;
  writes: KafkaRows[];
  /** every value's UTF-8 bytes, end to end in row order */
  values: ArrayBuffer;
  deadlineMs: number;
}

export type ProducerThreadRequest = SendRequest | { kind: 'close' };

export type ProducerThreadReply =
  | { kind: 'sent'; id: number }
  /** the send failed or outlived its deadline: its outcome is unknown (see @inlet/kafka's writer) */
  | { kind: 'failed'; id: number; error: string };

/** What a record adds to a produce request beyond its value: its key (a failed event's is its source id), headers and framing. */
const extraBytes = (topic: number, key: string): number => (topic === EVENTS_TOPIC_INDEX ? Buffer.byteLength(key) + 64 : 128);

/** Rows as the sink queues them, their values' UTF-8 length, and about how many bytes they add to a produce request. */
export interface KafkaPart { rows: KafkaRows; valueBytes: number; requestBytes: number }

/**
 * A request's records as the sink queues them, their values' length in UTF-8 bytes, and about how
 * many bytes they add to a produce request (values, keys, headers and framing). Failed events go in
 * the same produce request as the request's accepted ones: acknowledged together (unless the request
 * is too large for one, see splitKafkaRows).
 */
export function toKafkaRows(events: readonly StoredEvent[], failed: readonly FailedRecord[]): KafkaPart {
  const rows: KafkaRows = [];
  let valueBytes = 0;
  let otherBytes = 0;
  for (const { record, json } of events) {
    const key = partitionKey(record);
    valueBytes += Buffer.byteLength(json);
    otherBytes += extraBytes(EVENTS_TOPIC_INDEX, key);
    rows.push(EVENTS_TOPIC_INDEX, key, json, record.sourceId, record.type, record.messageId);
  }
  for (const { entry, json } of failed) {
    valueBytes += Buffer.byteLength(json);
    otherBytes += extraBytes(FAILED_TOPIC_INDEX, entry.sourceId);
    rows.push(FAILED_TOPIC_INDEX, entry.sourceId, json, entry.sourceId, entry.reason, entry.id);
  }
  return { rows, valueBytes, requestBytes: valueBytes + otherBytes };
}

/**
 * A request's rows in parts of at most `maxBytes` each, as toKafkaRows counts them: each part
 * goes out in a produce request of its own, which the brokers refuse over 1 MiB whatever the
 * compression (with none, 1,000 small events grow by their added fields past it). A record larger
 * than `maxBytes` is a part alone, over the bound: the sink refuses such a write rather than send
 * it (config.ts and failed-event.ts bound records so that none is).
 */
export function splitKafkaRows(rows: KafkaRows, maxBytes: number): KafkaPart[] {
  const parts: KafkaPart[] = [];
  let part: KafkaPart = { rows: [], valueBytes: 0, requestBytes: 0 };
  for (let i = 0; i < rows.length; i += RECORD_WIDTH) {
    const valueBytes = Buffer.byteLength(rows[i + 2] as string);
    const requestBytes = valueBytes + extraBytes(rows[i] as number, rows[i + 1] as string);
    if (part.rows.length > 0 && part.requestBytes + requestBytes > maxBytes) {
      parts.push(part);
      part = { rows: [], valueBytes: 0, requestBytes: 0 };
    }
    for (let j = i; j < i + RECORD_WIDTH; j++) part.rows.push(rows[j]);
    part.valueBytes += valueBytes;
    part.requestBytes += requestBytes;
  }
  if (part.rows.length > 0) parts.push(part);
  return parts;
}

/**
 * Moves a send's values into one buffer, each row left with where its value ends, so that the
 * buffer is transferred to the producer thread rather than copied. Cloned as strings, the values
 * became strings on the thread's heap, encoded to bytes again and kept until the acknowledgement,
 * copied by each scavenge meanwhile: a quarter of the thread's time went to its garbage collector
 * (bench/LOG.md, "2026-12-07"). One buffer per send, not per write: a buffer's own cost outweighs
 * a single event's copy.
 */
export function packValues(writes: KafkaRows[], valueBytes: number): ArrayBuffer {
  // Not from Buffer's shared pool: this buffer's memory goes to the other thread whole. write()
  // stops quietly at the buffer's end, so a count too small would cut a value short; with room for
  // one more character of the longest kind (4 bytes) it shows instead as values past the count.
  const values = Buffer.allocUnsafeSlow(valueBytes + 4);
  let end = 0;
  for (const rows of writes) {
    for (let i = 2; i < rows.length; i += RECORD_WIDTH) {
      end += values.write(rows[i] as string, end);
      rows[i] = end;
    }
  }
  if (end !== valueBytes) throw new Error(`the values took ${end} bytes, not the ${valueBytes} counted`);
  return values.buffer;
}

/** The thread's half: a send's records as the client takes them, each value a view of `values`. */
export function toMessages({ writes, values }: Pick<SendRequest, 'writes' | 'values'>, topics: ProducerThreadOptions['topics']): WriterMessage[] {
  const messages: WriterMessage[] = [];
  let valueStart = 0;
  for (const rows of writes) {
    for (let i = 0; i < rows.length; i += RECORD_WIDTH) {
      const topic = rows[i] as number;
      const valueEnd = rows[i + 2] as number;
      const [a, b, c] = HEADER_NAMES[topic];
      messages.push({
        topic: topics[topic]!,
        key: rows[i + 1] as string,
        value: Buffer.from(values, valueStart, valueEnd - valueStart),
        headers: new Map<string, string>().set(a, rows[i + 3] as string).set(b, rows[i + 4] as string).set(c, rows[i + 5] as string),
      });
      valueStart = valueEnd;
    }
  }
  return messages;
}
