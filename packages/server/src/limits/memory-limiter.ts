// Fixed-window request and event budgets per key, in this process only. The default limiter, and
// the fallback of the Redis limiter while Redis is away.
import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';
import { checkSettings, integer } from '@inlet/schema/settings';
import { checkBudgets, checkEvents, decide, type RateLimitBudgets } from './budgets.ts';

export interface MemoryRateLimiterOptions extends RateLimitBudgets {
  /**
   * Most keys tracked at once (default 100,000). Keys are write keys or client IPs, so a flood of
   * addresses could otherwise grow the map within one window; beyond this the oldest key is
   * forgotten (its budget starts over, which errs on the side of accepting events).
   */
  maxKeys?: number;
  /** ms clock; tests pass a fake one. Default: a monotonic clock. */
  now?: () => number;
}

interface Window {
  start: number;
  count: number;
}

interface Entry {
  requests: Window;
  events: Window;
}

export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory';
  readonly #budgets: RateLimitBudgets;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #sweepEveryMs: number;
  #lastSweep: number;

  constructor(options: MemoryRateLimiterOptions) {
    checkBudgets(options);
    const { maxKeys } = checkSettings({ maxKeys: integer(1).default(100_000) }, { maxKeys: options.maxKeys }, { label: 'rate limit' });
    this.#budgets = { requests: { ...options.requests }, events: { ...options.events } };
    this.#maxKeys = maxKeys;
    this.#now = options.now ?? (() => performance.now());
    this.#sweepEveryMs = Math.max(this.#budgets.requests.windowMs, this.#budgets.events.windowMs);
    this.#lastSweep = this.#now();
  }

  /** Keys currently tracked (bounded by maxKeys; expired ones are swept). */
  get size(): number {
    return this.#entries.size;
  }

  async consume(key: string, events: number): Promise<RateLimitDecision> {
    return this.take(key, events);
  }

  /** The synchronous core of consume(). */
  take(key: string, events: number): RateLimitDecision {
    checkEvents(events);
    const now = this.#now();
    this.#sweep(now);
    const { requests: rb, events: eb } = this.#budgets;

    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= this.#maxKeys) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      entry = { requests: { start: now, count: 0 }, events: { start: now, count: 0 } };
      this.#entries.set(key, entry);
    }
    renew(entry.requests, rb.windowMs, now);
    renew(entry.events, eb.windowMs, now);

    const requestsFit = entry.requests.count + 1 <= rb.limit;
    const eventsFit = entry.events.count + events <= eb.limit;
    const allowed = requestsFit && eventsFit;
    // A denied request spends nothing: it was not let through.
    if (allowed) {
      entry.requests.count += 1;
      entry.events.count += events;
    }
    return decide(
      allowed,
      { budget: rb, count: entry.requests.count, resetMs: entry.requests.start + rb.windowMs - now },
      requestsFit,
      { budget: eb, count: entry.events.count, resetMs: entry.events.start + eb.windowMs - now },
      eventsFit,
    );
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  // Lazy: at most one pass per longest window, so the cost is spread over many calls and no timer
  // keeps the process alive.
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#sweepEveryMs) return;
    this.#lastSweep = now;
    const { requests: rb, events: eb } = this.#budgets;
    for (const [key, e] of this.#entries) {
      if (now >= e.requests.start + rb.windowMs && now >= e.events.start + eb.windowMs) this.#entries.delete(key);
    }
  }
}

function renew(w: Window, windowMs: number, now: number): void {
  if (now >= w.start + windowMs) {
    w.start = now;
    w.count = 0;
  }
}
