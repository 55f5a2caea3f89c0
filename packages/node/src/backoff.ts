/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" — half
 * fixed, half random — so that many SDK instances that failed together do not retry together,
 * yet no retry comes immediately.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * The longest a server's Retry-After can make a batch wait, unless maxRetryDelayMs is longer. A
 * bound is needed: a misconfigured server can ask for days, and setTimeout turns anything from
 * 2^31 ms (~24.8 days) on into 1 ms — a retry storm instead of a pause.
 */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Delay before retry number `attempt`: the backoff, or the server's Retry-After when that is
 * longer (up to MAX_RETRY_AFTER_MS, or maxMs when larger). Retry-After never shortens the
 * backoff: a `0`, or a date already past, would otherwise retry at once, again and again.
 */
export function retryDelay(attempt: number, retryAfterMs: number | undefined, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const backoff = backoffDelay(attempt, minMs, maxMs, random);
  if (retryAfterMs === undefined || !(retryAfterMs > backoff)) return backoff;
  return Math.min(retryAfterMs, Math.max(maxMs, MAX_RETRY_AFTER_MS));
}

/** A server's Retry-After in ms: delay-seconds or an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
