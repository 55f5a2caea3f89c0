/** Defaults from DESIGN.md; the server makes each configurable. */
export const DEFAULT_LIMITS = {
  maxEventBytes: 32 * 1024,
  maxBatchEvents: 1000,
  maxBodyBytes: 500 * 1024,
} as const;

export type Limits = { maxEventBytes: number; maxBatchEvents: number; maxBodyBytes: number };

/**
 * What the server may add to an event beyond maxEventBytes (messageId, sourceId, receivedAt,
 * timestamp, context.ip, a page's event and category: ~230 bytes): the limit is on the event as
 * sent, and its stored record within the limit plus this.
 */
export const ADDED_BYTES_ALLOWANCE = 1024;
