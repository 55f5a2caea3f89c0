import type { NormalizedRecord } from '@inlet/schema';
import type { FailedRecord } from '../failed/failed-event.ts';

/** A record and its JSON, serialized once on the request path (the size check needs it too). */
export interface StoredEvent {
  record: NormalizedRecord;
  json: string;
}

export interface Written {
  /** accepted events that were already stored (same source and messageId); always 0 where the sink cannot tell (Kafka) */
  duplicates: number;
}

/**
 * Where a request's events go: the accepted ones, and the failed ones with their reasons. `write`
 * resolves only once all of them are durable (committed to disk, or acknowledged by all in-sync
 * Kafka replicas); it rejects with SinkUnavailableError when it cannot do so in bounded time, and
 * the request then gets 503.
 */
export interface Sink {
  readonly kind: string;
  write(events: readonly StoredEvent[], failed?: readonly FailedRecord[]): Promise<Written>;
  /** batches handed on to be made durable so far: group commits (embedded), sends to the brokers (Kafka) */
  readonly batches: number;
  /** true when a write now would likely succeed (for /health/ready) */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
