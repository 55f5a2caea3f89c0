import type { NormalizedRecord } from '@inlet/schema';

/** A record and its JSON, serialized once on the request path (the size check needs it too). */
export interface StoredEvent {
  record: NormalizedRecord;
  json: string;
}

/**
 * Where accepted events go. `write` resolves only once every event is durable (committed to
 * disk, or acknowledged by all in-sync Kafka replicas); it rejects with SinkUnavailableError when
 * it cannot do so in bounded time, and the request then gets 503.
 */
export interface Sink {
  readonly kind: string;
  write(events: readonly StoredEvent[]): Promise<void>;
  /** true when a write now would likely succeed (for /health/ready) */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
