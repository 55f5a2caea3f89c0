import type { NormalizedRecord } from '@inlet/schema';

/**
 * Where accepted events go. `write` resolves only once every record is durable (committed to
 * disk, or acknowledged by all in-sync Kafka replicas); it rejects with SinkUnavailableError when
 * it cannot do so in bounded time, and the request then gets 503.
 */
export interface Sink {
  readonly kind: string;
  write(records: NormalizedRecord[]): Promise<void>;
  /** true when a write now would likely succeed (for /health/ready) */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
