// Fixed-window request and event budgets per key, and per client address of a key, in this process
// only. The default limiter, and the fallback of the Redis limiter while Redis is away. Addresses
// have a map of their own, so a flood of new addresses can only make addresses forget their counts,
// never a key its own.
import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';
import { checkSettings, integer } from '@inlet/schema/settings';
import { addressBudgets, checkBudgets, checkEvents, decide, type BudgetState, type RateLimitBudgets } from './budgets.ts';
import type { Budget } from './rate-limiter.ts';

export interface MemoryRateLimiterOptions extends RateLimitBudgets {
  /**
   * Most keys tracked at once (default 100,000). Keys are write keys or client IPs, so a flood of
   * addresses could otherwise grow the map within one window; beyond this the oldest key is
   * forgotten (its budget starts over, which errs on the side of accepting events).
   */
  maxKeys?: number;
  /** Most (key, address) pairs tracked at once (default 100,000), forgotten the same way. */
  maxAddresses?: number;
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

/** One map of entries, bounded: the oldest goes first when it is full. */
class Entries {
  readonly map = new Map<string, Entry>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(key: string, now: number): Entry {
    let entry = this.map.get(key);
    if (!entry) {
      if (this.map.size >= this.#max) {
        const oldest = this.map.keys().next().value;
        if (oldest !== undefined) this.map.delete(oldest);
      }
      entry = { requests: { start: now, count: 0 }, events: { start: now, count: 0 } };
      this.map.set(key, entry);
    }
    return entry;
  }

  sweep(now: number, rb: Budget, eb: Budget): void {
    for (const [key, e] of this.map) {
      if (now >= e.requests.start + rb.windowMs && now >= e.events.start + eb.windowMs) this.map.delete(key);
    }
  }
}

export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory';
  readonly #budgets: RateLimitBudgets;
  readonly #addressBudgets: { requests: Budget; events: Budget } | undefined;
  readonly #now: () => number;
  readonly #keys: Entries;
  readonly #addresses: Entries;
  readonly #sweepEveryMs: number;
  #lastSweep: number;

  constructor(options: MemoryRateLimiterOptions) {
    checkBudgets(options);
    const { maxKeys, maxAddresses } = checkSettings({ maxKeys: integer(1).default(100_000), maxAddresses: integer(1).default(100_000) },
      { maxKeys: options.maxKeys, maxAddresses: options.maxAddresses }, { label: 'rate limit' });
    this.#budgets = { requests: { ...options.requests }, events: { ...options.events }, addressPercent: options.addressPercent, largestRequestEvents: options.largestRequestEvents };
    this.#addressBudgets = addressBudgets(this.#budgets);
    this.#keys = new Entries(maxKeys);
    this.#addresses = new Entries(maxAddresses);
    this.#now = options.now ?? (() => performance.now());
    this.#sweepEveryMs = Math.max(this.#budgets.requests.windowMs, this.#budgets.events.windowMs);
    this.#lastSweep = this.#now();
  }

  /** Keys currently tracked (bounded by maxKeys; expired ones are swept). */
  get size(): number {
    return this.#keys.map.size;
  }

  /** (key, address) pairs currently tracked (bounded by maxAddresses; expired ones are swept). */
  get addresses(): number {
    return this.#addresses.map.size;
  }

  async consume(key: string, events: number, address?: string): Promise<RateLimitDecision> {
    return this.take(key, events, address);
  }

  /** The synchronous core of consume(). */
  take(key: string, events: number, address?: string): RateLimitDecision {
    checkEvents(events);
    const now = this.#now();
    this.#sweep(now);
    const entry = this.#keys.get(key, now);
    // A NUL cannot be in a source id, so no (key, address) pair reads as another.
    const shares = this.#addressBudgets;
    const ofAddress = address === undefined || !shares ? undefined : this.#addresses.get(`${key}\0${address}`, now);
    const states = windowStates(entry, this.#budgets, events, now, false);
    if (ofAddress) states.push(...windowStates(ofAddress, shares!, events, now, true));
    // A denied request spends nothing: it was not let through.
    if (states.every((s) => s.fits)) {
      spend(entry, events);
      if (ofAddress) spend(ofAddress, events);
      // The decision reports the counts after this request.
      for (let i = 0; i < states.length; i += 2) {
        states[i].count += 1;
        states[i + 1].count += events;
      }
    }
    return decide(states);
  }

  async close(): Promise<void> {
    this.#keys.map.clear();
    this.#addresses.map.clear();
  }

  // Lazy: at most one pass per longest window, so the cost is spread over many calls and no timer
  // keeps the process alive.
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#sweepEveryMs) return;
    this.#lastSweep = now;
    const { requests: rb, events: eb } = this.#budgets;
    this.#keys.sweep(now, rb, eb);
    this.#addresses.sweep(now, rb, eb);
  }
}

/** An entry's two windows (requests, then events), renewed when passed, as a decision sees them before a request of `events` events. */
function windowStates(entry: Entry, budgets: { requests: Budget; events: Budget }, events: number, now: number, ofAddress: boolean): BudgetState[] {
  const { requests: rb, events: eb } = budgets;
  renew(entry.requests, rb.windowMs, now);
  renew(entry.events, eb.windowMs, now);
  return [
    { budget: rb, count: entry.requests.count, resetMs: entry.requests.start + rb.windowMs - now, fits: entry.requests.count + 1 <= rb.limit, ofAddress },
    { budget: eb, count: entry.events.count, resetMs: entry.events.start + eb.windowMs - now, fits: entry.events.count + events <= eb.limit, ofAddress },
  ];
}

function spend(entry: Entry, events: number): void {
  entry.requests.count += 1;
  entry.events.count += events;
}

function renew(w: Window, windowMs: number, now: number): void {
  if (now >= w.start + windowMs) {
    w.start = now;
    w.count = 0;
  }
}
