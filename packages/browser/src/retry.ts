// When to try again. Pure functions, so they are unit-tested without a browser.

/** Exponential backoff with jitter: a random delay in [d/2, d], d = base·2^(attempt−1) capped at max. */
export function backoff(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return d / 2 + (random() * d) / 2;
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date); 0 when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (!header) return 0;
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(header) ? +header * 1000 : Date.parse(header) - now;
  // At most 10 minutes, as @inlet/node: a wait of 2^31 ms or more would make a timer that fires at once, again and again.
  return ms > 0 ? Math.min(ms, 6e5) : 0;
}

/** Whether an HTTP status means "try again": 408, 429 and 5xx. Other 4xx are definitive rejections. */
export function retryable(status: number): boolean {
  return status > 499 || status === 408 || status === 429;
}
