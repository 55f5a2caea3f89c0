import { SourceStoreUnavailableError } from '../errors.ts';
import type { PlanStore } from '../plans/plan-store.ts';
import type { NewSource, Source, SourceStore, SourceWithKey } from './source-store.ts';

export interface SourceCacheOptions {
  /** how long a found source is trusted (default 5 minutes); an expired one is still served while the store is down */
  hitTtlMs?: number;
  /** how long "no such key" is remembered (default 10 s) */
  missTtlMs?: number;
  /** most found keys kept, least recently used first out (default 100,000) */
  maxHits?: number;
  /** most unknown keys remembered, oldest first out (default 10,000) */
  maxMisses?: number;
}

interface Hit {
  source: Source;
  expiresAt: number;
}

/**
 * Write-key lookups cached in process, in two bounded maps. Keys the store knows (hits) are kept 5
 * minutes and, when the store is down, served past that: a key that worked a moment ago keeps
 * working through a database outage. Unknown keys (misses) are remembered briefly so a repeated bad
 * key does not query the store each time. The two never compete for room: only the store's answers
 * put a key among the hits, so a flood of random keys churns the misses and cannot push a real key
 * out (hits leave least recently used first).
 */
export class CachedSourceStore implements SourceStore {
  readonly kind: string;
  /** plans are not cached here: each instance's PlanRegistry keeps what it compiled */
  readonly plans: PlanStore;
  private readonly store: SourceStore;
  private readonly hitTtlMs: number;
  private readonly missTtlMs: number;
  private readonly maxHits: number;
  private readonly maxMisses: number;
  private readonly hits = new Map<string, Hit>();
  /** key -> when it stops being remembered as unknown */
  private readonly misses = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<Source | undefined>>();

  constructor(store: SourceStore, options: SourceCacheOptions = {}) {
    this.store = store;
    this.kind = store.kind;
    this.plans = store.plans;
    this.hitTtlMs = options.hitTtlMs ?? 5 * 60_000;
    this.missTtlMs = options.missTtlMs ?? 10_000;
    this.maxHits = options.maxHits ?? 100_000;
    this.maxMisses = options.maxMisses ?? 10_000;
  }

  findByKeyHash(keyHash: string): Promise<Source | undefined> {
    const now = Date.now();
    const hit = this.#hit(keyHash, now);
    if (hit) return Promise.resolve(hit.source);
    const missUntil = this.misses.get(keyHash);
    if (missUntil !== undefined && missUntil > now) return Promise.resolve(undefined);
    // Concurrent requests with the same uncached key share one query.
    let lookup = this.lookups.get(keyHash);
    if (!lookup) {
      lookup = this.lookUp(keyHash).finally(() => this.lookups.delete(keyHash));
      this.lookups.set(keyHash, lookup);
    }
    return lookup;
  }

  /** The source of a key (by its hash) this instance found recently, without asking the store; undefined otherwise. */
  cachedByKeyHash(keyHash: string): Source | undefined {
    return this.#hit(keyHash, Date.now())?.source;
  }

  /** A live hit, moved to the most recently used end. */
  #hit(keyHash: string, now: number): Hit | undefined {
    const hit = this.hits.get(keyHash);
    if (!hit || hit.expiresAt <= now) return undefined;
    this.hits.delete(keyHash);
    this.hits.set(keyHash, hit);
    return hit;
  }

  private async lookUp(keyHash: string): Promise<Source | undefined> {
    let source: Source | undefined;
    try {
      source = await this.store.findByKeyHash(keyHash);
    } catch (error) {
      const stale = this.hits.get(keyHash);
      if (stale && error instanceof SourceStoreUnavailableError) return stale.source;
      throw error;
    }
    const now = Date.now();
    if (source) {
      this.misses.delete(keyHash);
      this.hits.delete(keyHash);
      if (this.hits.size >= this.maxHits) this.hits.delete(this.hits.keys().next().value!);
      this.hits.set(keyHash, { source, expiresAt: now + this.hitTtlMs });
    } else {
      this.hits.delete(keyHash);
      this.misses.delete(keyHash);
      if (this.misses.size >= this.maxMisses) this.misses.delete(this.misses.keys().next().value!);
      this.misses.set(keyHash, now + this.missTtlMs);
    }
    return source;
  }

  create(input: NewSource): Promise<SourceWithKey> {
    return this.store.create(input);
  }

  async rotateKey(id: string): Promise<SourceWithKey | undefined> {
    const rotated = await this.store.rotateKey(id);
    this.#forget(id);
    return rotated;
  }

  list(): Promise<Source[]> {
    return this.store.list();
  }

  ensureDefault(): Promise<(Source & { writeKey?: string }) | undefined> {
    return this.store.ensureDefault();
  }

  async rename(id: string, name: string): Promise<Source | undefined> {
    const renamed = await this.store.rename(id, name);
    this.#forget(id);
    return renamed;
  }

  async revoke(id: string): Promise<boolean> {
    const revoked = await this.store.revoke(id);
    this.#forget(id);
    return revoked;
  }

  adminTokenHash(): Promise<string | undefined> {
    return this.store.adminTokenHash();
  }

  setAdminTokenHash(hash: string, replace: boolean): Promise<boolean> {
    return this.store.setAdminTokenHash(hash, replace);
  }

  /** Drops this process's cached copy of a source that changed (other instances expire theirs). */
  #forget(id: string): void {
    for (const [key, hit] of this.hits) if (hit.source.id === id) this.hits.delete(key);
  }

  ready(): Promise<boolean> {
    return this.store.ready();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
