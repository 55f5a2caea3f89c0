// Requests without a valid write key belong to no source whose budget could pay for them, yet each
// costs a key lookup (and, with the key in the body, reading and parsing the body). They are limited
// per client address instead: a token bucket per address, in a bounded map. Only failures spend a
// token, so a client with a valid key never notices; one that keeps failing gets 429 before its
// next request costs anything. IPv6 addresses count by their /64, what one host usually has.
import { addressKey } from '../client-ip.ts';

export interface UnauthenticatedLimits {
  /** tokens an address regains per second */
  perSecond: number;
  /** most tokens an address holds (its allowance after a quiet spell) */
  burst: number;
  /** most addresses remembered; the least recently seen go first (default 100,000) */
  maxAddresses?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class UnauthenticatedLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limits: UnauthenticatedLimits) {
    this.#perSecond = limits.perSecond;
    this.#burst = limits.burst;
    this.#max = limits.maxAddresses ?? 100_000;
  }

  /** Seconds until this address may try again (whole, at least 1); 0 when it may now. */
  retryAfter(ip: string | undefined, now = Date.now()): number {
    const bucket = this.#buckets.get(addressKey(ip));
    if (!bucket) return 0;
    const tokens = this.#refilled(bucket, now);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.#perSecond));
  }

  /** A request from this address came without a valid key: it spends a token. */
  spend(ip: string | undefined, now = Date.now()): void {
    const key = addressKey(ip);
    const bucket = this.#buckets.get(key);
    const tokens = bucket ? this.#refilled(bucket, now) : this.#burst;
    // Re-inserted, so the map's order is least recently seen first.
    this.#buckets.delete(key);
    if (this.#buckets.size >= this.#max) this.#buckets.delete(this.#buckets.keys().next().value!);
    this.#buckets.set(key, { tokens: Math.max(0, tokens - 1), at: now });
  }

  /** addresses remembered now */
  get size(): number {
    return this.#buckets.size;
  }

  #refilled(bucket: Bucket, now: number): number {
    return Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
  }
}
