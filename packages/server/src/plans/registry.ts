// Which plan each source has right now, for the request path. Every instance polls the plan
// store's heads (source → current version: one small query) every 2 seconds, so a plan put on
// any instance, or from the command line, is applied everywhere within about that, without a
// restart. A plan is loaded and compiled the first time an event of its source arrives, and kept
// (bounded: the least recently used plans are dropped past `maxCachedBytes`). Sources without a
// plan cost one Map lookup.
import type { Logger } from 'pino';
import { SourceStoreUnavailableError } from '../errors.ts';
import { CompiledPlan } from './compiled-plan.ts';
import type { PlanStore } from './plan-store.ts';

export interface PlanRegistryOptions {
  /** how often the heads are read (default 2000 ms: a new version applies within 5 s) */
  refreshMs?: number;
  /** bound on the plans kept compiled, counted as their JSON's size (default 64 MiB) */
  maxCachedBytes?: number;
  logger?: Pick<Logger, 'warn'>;
}

/** What ingestion and replay ask: the source's plan now, or undefined. A promise only while a plan loads. */
export type PlanLookup = (sourceId: string) => CompiledPlan | undefined | Promise<CompiledPlan | undefined>;

export class PlanRegistry {
  readonly #store: PlanStore;
  readonly #refreshMs: number;
  readonly #maxCachedBytes: number;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  #heads = new Map<string, number>();
  /** by source; Map order is least recently used first */
  readonly #compiled = new Map<string, CompiledPlan>();
  readonly #loading = new Map<string, Promise<CompiledPlan | undefined>>();
  #cachedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #failing = false;
  /** bumped by applied(): heads read while a local change happened may predate it */
  #changes = 0;

  constructor(store: PlanStore, options: PlanRegistryOptions = {}) {
    this.#store = store;
    this.#refreshMs = options.refreshMs ?? 2000;
    this.#maxCachedBytes = options.maxCachedBytes ?? 64 * 1024 * 1024;
    this.#logger = options.logger;
  }

  /** Reads the heads once (rejects when the store cannot be reached), then keeps them fresh. */
  async start(): Promise<void> {
    this.#heads = await this.#store.heads();
    this.#timer = setInterval(() => void this.refresh(), this.#refreshMs);
    this.#timer.unref();
  }

  /** Reads the heads now. A store that cannot be reached leaves the last known heads in force. */
  refresh(): Promise<void> {
    return this.#refreshing ??= (async () => {
      try {
        const changes = this.#changes;
        const heads = await this.#store.heads();
        // A put or delete here while the query ran may be missing from it: the next poll has it.
        if (changes === this.#changes) this.#heads = heads;
        if (this.#failing) this.#logger?.warn('plan store reachable again: plans are up to date');
        this.#failing = false;
      } catch (error) {
        if (!this.#failing) this.#logger?.warn({ reason: (error as Error).message }, 'cannot read plan versions; the last known ones stay in force');
        this.#failing = true;
      } finally {
        this.#refreshing = undefined;
      }
    })();
  }

  /** The source's current plan (compiled), undefined when it has none. */
  readonly lookup: PlanLookup = (sourceId) => {
    const version = this.#heads.get(sourceId);
    if (version === undefined) return undefined;
    const compiled = this.#compiled.get(sourceId);
    if (compiled?.version === version) {
      // Most recently used last.
      this.#compiled.delete(sourceId);
      this.#compiled.set(sourceId, compiled);
      return compiled;
    }
    // Concurrent first requests share one load (per version: a newer one does not wait for an older).
    const key = `${sourceId}\u0000${version}`;
    let loading = this.#loading.get(key);
    if (!loading) {
      loading = this.#load(sourceId, version, compiled).finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    return loading;
  };

  async #load(sourceId: string, version: number, stale: CompiledPlan | undefined): Promise<CompiledPlan | undefined> {
    let stored;
    try {
      stored = await this.#store.get(sourceId, version);
    } catch (error) {
      // The version before is better than refusing the source's events while the store is down.
      if (stale) return stale;
      if (error instanceof SourceStoreUnavailableError) throw error;
      throw new SourceStoreUnavailableError(`cannot load the plan of ${sourceId}: ${(error as Error).message}`, { cause: error });
    }
    if (!stored?.plan) {
      // Deleted since the heads were read: the next refresh agrees.
      this.#forget(sourceId);
      return undefined;
    }
    const compiled = new CompiledPlan(sourceId, stored.version, stored.plan, stored.summary?.bytes ?? 0, {
      onCompileError: (where, error) => this.#logger?.warn({ sourceId, version: stored.version, where, reason: error.message }, 'a stored plan schema does not compile; events of that name are not checked'),
      onCheckError: (where, error) => this.#logger?.warn({ sourceId, version: stored.version, where, reason: error.message }, 'a stored plan schema fails as it checks an event; events of that name break the plan until it is fixed'),
    });
    // A load of an older version that finished late does not replace a newer one.
    const cached = this.#compiled.get(sourceId);
    if (cached && cached.version > compiled.version) return compiled;
    this.#forget(sourceId);
    this.#compiled.set(sourceId, compiled);
    this.#cachedBytes += compiled.bytes;
    for (const id of this.#compiled.keys()) {
      if (this.#cachedBytes <= this.#maxCachedBytes || id === sourceId) break;
      this.#forget(id);
    }
    return compiled;
  }

  #forget(sourceId: string): void {
    const old = this.#compiled.get(sourceId);
    if (!old) return;
    this.#compiled.delete(sourceId);
    this.#cachedBytes -= old.bytes;
  }

  /** After this process put or deleted a plan: applied here at once, without waiting for the poll. */
  applied(sourceId: string, version: number | undefined): void {
    this.#changes++;
    const heads = new Map(this.#heads);
    if (version === undefined) heads.delete(sourceId);
    else heads.set(sourceId, version);
    this.#heads = heads;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
