/** One fixed-window budget: so many units per window. */
export interface Budget {
  limit: number;
  windowMs: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** the budget that decided (the tighter one when both pass) */
  limit: number;
  remaining: number;
  /** ms until the deciding window resets */
  resetMs: number;
  /** the client address's share of the key's budgets decided, not the key's own budgets */
  byAddress: boolean;
}

/**
 * Per-key request and event budgets. `consume` counts one request and `events` events against
 * `key` and, given a client `address`, against that address's share of the key's budgets too (so
 * one client of a public key cannot use up what every other client of it has); a request is let
 * through only when every budget has room, and one refused spends nothing. It never rejects: a
 * limiter whose backing store is gone decides locally instead, because rate limiting must never
 * cost us events.
 */
export interface RateLimiter {
  readonly kind: string;
  /** For a limiter that shares budgets between instances: whether it does now (false while it decides locally). */
  readonly shared?: boolean;
  consume(key: string, events: number, address?: string): Promise<RateLimitDecision>;
  close(): Promise<void>;
}
