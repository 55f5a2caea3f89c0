// Messages between the Kafka sink (main thread) and the thread that runs its producer.
import { partitionKey, type KafkaWriterOptions } from '@inlet/kafka';
import type { FailedRecord } from '../failed/failed-event.ts';
import type { StoredEvent } from './sink.ts';

/**
 * Records laid end to end in one flat array (cheaper to copy between threads than an object per
 * record): topic (an index into `topics`), key, value, and the three header values of that topic's
 * records (@inlet/kafka's HEADERS for events, FAILED_HEADER_NAMES for failed events). The value is
 * the record's JSON while the sink holds the rows; posted to the thread, it is where the value's
 * bytes end in the send's `values` (packValues).
 */
export type KafkaRows = (string | number)[];
export const RECORD_WIDTH = 6;
export const EVENTS_TOPIC_INDEX = 0;
export const FAILED_TOPIC_INDEX = 1;
/** Header names of a failed-events record, in row order (the failed store reads them by name). */
export const FAILED_HEADER_NAMES = ['source-id', 'reason', 'failed-id'] as const;

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

/**
 * A request's records as the sink queues them, and its values' length in UTF-8 bytes. Failed events
 * go in the same produce request as the request's accepted ones: acknowledged together.
 */
export function toKafkaRows(events: readonly StoredEvent[], failed: readonly FailedRecord[]): { rows: KafkaRows; valueBytes: number } {
  const rows: KafkaRows = [];
  let valueBytes = 0;
  for (const { record, json } of events) {
    valueBytes += Buffer.byteLength(json);
    rows.push(EVENTS_TOPIC_INDEX, partitionKey(record), json, record.sourceId, record.type, record.messageId);
  }
  for (const { entry, json } of failed) {
    valueBytes += Buffer.byteLength(json);
    rows.push(FAILED_TOPIC_INDEX, entry.sourceId, json, entry.sourceId, entry.reason, entry.id);
  }
  return { rows, valueBytes };
}

/**
 * Moves a send's values into one buffer, each row left with where its value ends, so that the
 * buffer is transferred to the producer thread rather than copied. Cloned as strings, a send's values
 * cost the main thread a copy into a buffer grown as it goes, and the producer thread a string each,
 * kept on its heap until the acknowledgement and copied by its scavenges meanwhile (BENCHMARKS.md,
 * "2026-12-07"). One buffer per send, not per write: a buffer's own cost outweighs a single
 * event's copy.
 */
export function packValues(writes: KafkaRows[], valueBytes: number): ArrayBuffer {
  // Not from Buffer's shared pool: this buffer's memory goes to the other thread whole.
  const values = Buffer.allocUnsafeSlow(valueBytes);
  let end = 0;
  for (const rows of writes) {
    for (let i = 2; i < rows.length; i += RECORD_WIDTH) {
      end += values.write(rows[i] as string, end);
      rows[i] = end;
    }
  }
  return values.buffer;
}
