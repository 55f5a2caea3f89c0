// What the publisher needs from a way of delivering events. `Item` is the transport's own
// ready-to-send form of one event, made once at track() time: the JSON string for HTTP, the
// Kafka record for Kafka. Batching, retries and the buffer bound live in the publisher.
import type { InletEvent } from '@inlet/schema';

export type Prepared<Item> =
  | { ok: true; item: Item; bytes: number }
  | { ok: false; reason: 'invalid' | 'too-large'; message: string };

export type SendOutcome =
  /** delivered; `rejected` events were refused one by one by the server (partial success) */
  | { ok: true; rejected: number; message?: string }
  /**
   * not delivered; `retry` says whether trying again can help, `tooLarge` that the batch as a
   * whole was refused for its size (HTTP 413), so smaller batches may pass
   */
  | { ok: false; retry: boolean; tooLarge?: boolean; retryAfterMs?: number; status?: number; message: string };

export interface Transport<Item> {
  /** batches the publisher may have in flight at once on this transport (1 keeps them in order) */
  readonly maxInFlight: number;
  /** per-item overhead inside a batch (a comma in JSON), counted towards maxBatchBytes */
  readonly itemOverheadBytes: number;
  prepare(event: InletEvent): Prepared<Item>;
  /** never rejects: failures come back as an outcome */
  send(items: Item[]): Promise<SendOutcome>;
  /** `force` aborts requests in flight (shutdown timed out) */
  close(force: boolean): Promise<void>;
}
