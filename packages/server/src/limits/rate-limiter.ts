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
}

/**
 * Per-key request and event budgets. `consume` counts one request and `events` events against
 * `key`. It never rejects: a limiter whose backing store is gone decides locally instead, because
 * rate limiting must never cost us events.
 */
export interface RateLimiter {
  readonly kind: string;
  consume(key: string, events: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}
