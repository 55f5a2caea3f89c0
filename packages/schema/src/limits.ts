/** Defaults from DESIGN.md; the server makes each configurable. */
export const DEFAULT_LIMITS = {
  maxEventBytes: 32 * 1024,
  maxBatchEvents: 1000,
  maxBodyBytes: 500 * 1024,
} as const;

export type Limits = { maxEventBytes: number; maxBatchEvents: number; maxBodyBytes: number };
