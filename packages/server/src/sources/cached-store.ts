import { SourceStoreUnavailableError } from '../errors.ts';
import type { PlanStore } from '../plans/plan-store.ts';
import type { NewSource, Source, SourceChange, SourceChangeKind, SourceStore, SourceWithKey } from './source-store.ts';

export interface SourceCacheOptions {
  /** how long a found source is trusted (default 5 minutes); an expired one is still served while the store is down */
  hitTtlMs?: number;
  /** how long "no such key" is remembered (default 10 s) */
  missTtlMs?: number;
  /** most found keys kept, least recently used first out (default 100,000) */
  maxHits?: number;
  /** most unknown keys remembered, oldest first out (default 10,000) */
  maxMisses?: number;
  /** how often the sources' change log is read (default 1000 ms): a key rotated or revoked elsewhere is refused here within about this */
  pollMs?: number;
  /** most retired keys (rotated or revoked) remembered as such (default 100,000) */
  maxRetired?: number;
  logger?: { warn(message: string): void };
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
 *
 * Revocation: `watch()` reads the store's change log every second. A key that was rotated or
 * revoked — on any instance, or from the command line — is dropped from the hits and remembered as
 * retired (bounded; a retired key never becomes valid again), so it is refused from then on, also
 * while the store is unreachable: a stale hit is never served past a revocation this instance has
 * learned of. Other changes (a rename) expire the source's hits, to be read again.
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
  /** key hash -> what it now finds: the revoked source, or undefined for a rotated key */
  private readonly retired = new Map<string, Source | undefined>();
  private readonly maxRetired: number;
  private readonly pollMs: number;
  private readonly logger: { warn(message: string): void } | undefined;
  #version: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollFailing = false;
  #revokedReads: Promise<void> = Promise.resolve();

  constructor(store: SourceStore, options: SourceCacheOptions = {}) {
    this.store = store;
    this.kind = store.kind;
    this.plans = store.plans;
    this.hitTtlMs = options.hitTtlMs ?? 5 * 60_000;
    this.missTtlMs = options.missTtlMs ?? 10_000;
    this.maxHits = options.maxHits ?? 100_000;
    this.maxMisses = options.maxMisses ?? 10_000;
    this.maxRetired = options.maxRetired ?? 100_000;
    this.pollMs = options.pollMs ?? 1000;
    this.logger = options.logger;
  }

  /** Starts following the change log from its current version. Rejects when the store cannot be read. */
  async watch(): Promise<void> {
    this.#version = (await this.store.sourceChanges(undefined)).version;
    this.#timer = setInterval(() => { void this.poll(); }, this.pollMs);
    this.#timer.unref();
  }

  /** Reads the change log once and applies what changed; never rejects (an unreachable store is tried again next time). */
  poll(): Promise<void> {
    return (this.#polling ??= this.#poll().finally(() => { this.#polling = undefined; }));
  }

  async #poll(): Promise<void> {
    if (this.#version === undefined) return;
    try {
      for (;;) {
        const { version, changes } = await this.store.sourceChanges(this.#version);
        for (const change of changes) this.#apply(change);
        this.#version = version;
        if (changes.length === 0) break;
      }
      if (this.#pollFailing) this.logger?.warn('source changes: the store answers again');
      this.#pollFailing = false;
    } catch (error) {
      if (!this.#pollFailing) this.logger?.warn(`source changes: cannot read the change log (${(error as Error).message}); cached keys are served as they were`);
      this.#pollFailing = true;
    }
  }

  #apply(change: SourceChange): void {
    if (change.retiredKeyHash !== null) this.#retire(change.retiredKeyHash, change.sourceId, change.kind);
    // Whatever else is cached of the source is read again (and served as it was if the store is down).
    for (const hit of this.hits.values()) if (hit.source.id === change.sourceId) hit.expiresAt = 0;
  }

  #retire(keyHash: string, sourceId: string, kind: SourceChangeKind): void {
    // (a key revoked through this instance is already among the retired, as revoked)
    const cached = this.hits.get(keyHash)?.source ?? this.retired.get(keyHash);
    this.hits.delete(keyHash);
    this.misses.delete(keyHash);
    const revoked = kind === 'revoked' && cached?.id === sourceId ? { ...cached, revokedAt: cached.revokedAt ?? new Date().toISOString() } : undefined;
    this.retired.delete(keyHash);
    if (this.retired.size >= this.maxRetired) this.retired.delete(this.retired.keys().next().value!);
    this.retired.set(keyHash, revoked);
    // A key revoked elsewhere that this instance never looked up is refused at once; the store's
    // copy, read once now, lets it be refused as revoked rather than unknown (when the store answers).
    // One read at a time: many keys revoked at once must not crowd out the lookups of requests.
    if (kind === 'revoked' && revoked === undefined) {
      this.#revokedReads = this.#revokedReads.then(() => this.store.findByKeyHash(keyHash)).then((source) => {
        if (source?.revokedAt && source.id === sourceId && this.retired.has(keyHash) && this.retired.get(keyHash) === undefined) this.retired.set(keyHash, source);
      }, () => {});
    }
  }

  findByKeyHash(keyHash: string): Promise<Source | undefined> {
    if (this.retired.has(keyHash)) return Promise.resolve(this.retired.get(keyHash));
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
    if (this.retired.has(keyHash)) return this.retired.get(keyHash);
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
      if (this.retired.has(keyHash)) return this.retired.get(keyHash);
      const stale = this.hits.get(keyHash);
      if (stale && error instanceof SourceStoreUnavailableError) return stale.source;
      throw error;
    }
    // Retired while the query was out: what the log said wins over an older row.
    if (this.retired.has(keyHash)) return this.retired.get(keyHash);
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
    if (rotated) this.#forget(id, 'rotated');
    return rotated;
  }

  sourceChanges(since: number | undefined): Promise<{ version: number; changes: SourceChange[] }> {
    return this.store.sourceChanges(since);
  }

  list(): Promise<Source[]> {
    return this.store.list();
  }

  ensureDefault(): Promise<(Source & { writeKey?: string }) | undefined> {
    return this.store.ensureDefault();
  }

  async rename(id: string, name: string): Promise<Source | undefined> {
    const renamed = await this.store.rename(id, name);
    if (renamed) this.#apply({ version: 0, sourceId: id, kind: 'renamed', retiredKeyHash: null });
    return renamed;
  }

  async revoke(id: string): Promise<boolean> {
    const revoked = await this.store.revoke(id);
    if (revoked) this.#forget(id, 'revoked');
    return revoked;
  }

  adminTokenHash(): Promise<string | undefined> {
    return this.store.adminTokenHash();
  }

  setAdminTokenHash(hash: string, replace: boolean | { expected: string }): Promise<boolean> {
    return this.store.setAdminTokenHash(hash, replace);
  }

  // Not cached: a sign-out on another instance must hold here at once (admin/ended-sessions.ts).
  endSession(nonce: string, expiresAtMs: number, nowMs?: number): Promise<void> {
    return this.store.endSession(nonce, expiresAtMs, nowMs);
  }

  sessionEnded(nonce: string): Promise<boolean> {
    return this.store.sessionEnded(nonce);
  }

  /** A key changed here: retired at once on this instance (the others learn it from the change log). */
  #forget(id: string, kind: 'rotated' | 'revoked'): void {
    for (const [keyHash, hit] of [...this.hits]) if (hit.source.id === id) this.#retire(keyHash, id, kind);
  }

  /** Keys are cached that this instance would still take events from while the store is down (a revoked source's are not). */
  get servesCachedKeys(): boolean {
    // (stops at the first active one: a full walk only when every cached key is revoked)
    for (const hit of this.hits.values()) if (!hit.source.revokedAt) return true;
    return false;
  }

  ready(): Promise<boolean> {
    return this.store.ready();
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.store.close();
  }
}
