// Messages between the Kafka sink (main thread) and the thread that runs its producer.
import type { KafkaWriterOptions } from '@inlet/kafka';

/**
 * Records laid end to end in one flat array (cheaper to copy between threads than an object per
 * record): topic (an index into `topics`), key, value, and the three header values of that topic's
 * records (@inlet/kafka's HEADERS for events, FAILED_HEADER_NAMES for failed events).
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
  deadlineMs: number;
}

export type ProducerThreadRequest = SendRequest | { kind: 'close' };

export type ProducerThreadReply =
  | { kind: 'sent'; id: number }
  /** the send failed or outlived its deadline: its outcome is unknown (see @inlet/kafka's writer) */
  | { kind: 'failed'; id: number; error: string };
