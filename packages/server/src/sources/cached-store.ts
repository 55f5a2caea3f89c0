import { SourceStoreUnavailableError } from '../errors.ts';
import type { PlanStore } from '../plans/plan-store.ts';
import type { NewSource, Source, SourceStore } from './source-store.ts';

export interface SourceCacheOptions {
  hitTtlMs?: number;
  missTtlMs?: number;
  maxEntries?: number;
}

interface Entry {
  source: Source | undefined;
  expiresAt: number;
}

/**
 * Write-key lookups cached in process: hits for 5 minutes, misses briefly so a flood of bad keys
 * cannot hammer the database. When the store is down, an expired entry is still served: a key
 * that worked a moment ago keeps working through a database outage.
 */
export class CachedSourceStore implements SourceStore {
  readonly kind: string;
  /** plans are not cached here: each instance's PlanRegistry keeps what it compiled */
  readonly plans: PlanStore;
  private readonly store: SourceStore;
  private readonly hitTtlMs: number;
  private readonly missTtlMs: number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();
  private readonly lookups = new Map<string, Promise<Source | undefined>>();

  constructor(store: SourceStore, options: SourceCacheOptions = {}) {
    this.store = store;
    this.kind = store.kind;
    this.plans = store.plans;
    this.hitTtlMs = options.hitTtlMs ?? 5 * 60_000;
    this.missTtlMs = options.missTtlMs ?? 10_000;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  findByWriteKey(writeKey: string): Promise<Source | undefined> {
    const entry = this.entries.get(writeKey);
    if (entry && entry.expiresAt > Date.now()) return Promise.resolve(entry.source);
    // Concurrent requests with the same uncached key share one query.
    let lookup = this.lookups.get(writeKey);
    if (!lookup) {
      lookup = this.lookUp(writeKey, entry).finally(() => this.lookups.delete(writeKey));
      this.lookups.set(writeKey, lookup);
    }
    return lookup;
  }

  /** The source of a key this instance found recently, without asking the store; undefined otherwise. */
  cachedByWriteKey(writeKey: string): Source | undefined {
    const entry = this.entries.get(writeKey);
    return entry && entry.expiresAt > Date.now() ? entry.source : undefined;
  }

  private async lookUp(writeKey: string, stale: Entry | undefined): Promise<Source | undefined> {
    let source: Source | undefined;
    try {
      source = await this.store.findByWriteKey(writeKey);
    } catch (error) {
      if (stale?.source && error instanceof SourceStoreUnavailableError) return stale.source;
      throw error;
    }
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(writeKey);
    this.entries.set(writeKey, { source, expiresAt: Date.now() + (source ? this.hitTtlMs : this.missTtlMs) });
    return source;
  }

  create(input: NewSource): Promise<Source> {
    return this.store.create(input);
  }

  list(): Promise<Source[]> {
    return this.store.list();
  }

  ensureDefault(): Promise<Source | undefined> {
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
    for (const [key, entry] of this.entries) if (entry.source?.id === id) this.entries.delete(key);
  }

  ready(): Promise<boolean> {
    return this.store.ready();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
