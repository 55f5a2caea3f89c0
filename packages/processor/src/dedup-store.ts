// The dedup memory of one input partition: dedup key → receivedAt (ms) of the last kept event,
// plus the partition's watermark (the highest receivedAt processed so far).
//
// Every decision is a pure function of the records processed before it, never of wall-clock time
// or of when eviction last ran: an entry only counts while it is "live" (not older than
// watermark − window), and eviction only removes entries that are no longer live. That is what
// lets a restored copy (rebuilt from the changelog) decide exactly like the copy that crashed.

/** Rough V8 cost of one Map entry besides the key's characters (measured by bench/processor.ts). */
export const ENTRY_OVERHEAD_BYTES = 70;

export interface Decision {
  duplicate: boolean;
}

export class DedupStore {
  readonly windowMs: number;
  #entries = new Map<string, number>();
  #watermark = Number.NEGATIVE_INFINITY;
  #keyChars = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  get watermark(): number {
    return this.#watermark;
  }

  /** Estimated heap bytes held by the entries (keys are one byte per char for ASCII ids). */
  get estimatedBytes(): number {
    return this.#keyChars + this.#entries.size * ENTRY_OVERHEAD_BYTES;
  }

  /**
   * Decides whether the event is a repeat and, when it is not, remembers it.
   * A repeat is the same key seen within `windowMs` (on receivedAt) of the last kept occurrence.
   */
  decide(key: string, receivedAt: number): boolean {
    if (receivedAt > this.#watermark) this.#watermark = receivedAt;
    const previous = this.#entries.get(key);
    if (previous !== undefined && this.#isLive(previous) && Math.abs(receivedAt - previous) <= this.windowMs) return true;
    this.#set(key, receivedAt);
    return false;
  }

  /** Loads one changelog entry during a restore (the last value per key wins, like compaction). */
  restoreEntry(key: string, receivedAt: number): void {
    this.#set(key, receivedAt);
  }

  restoreWatermark(watermark: number): void {
    if (watermark > this.#watermark) this.#watermark = watermark;
  }

  has(key: string): boolean {
    const previous = this.#entries.get(key);
    return previous !== undefined && this.#isLive(previous);
  }

  /**
   * Drops entries that can no longer make anything a duplicate. Entries are kept in insertion
   * order, which follows receivedAt closely, so this stops at the first live entry; an entry that
   * arrived out of order may linger a little longer, which costs memory, never correctness.
   */
  evict(): number {
    const horizon = this.#watermark - this.windowMs;
    let evicted = 0;
    for (const [key, receivedAt] of this.#entries) {
      if (receivedAt >= horizon) break;
      this.#entries.delete(key);
      this.#keyChars -= key.length;
      evicted++;
    }
    return evicted;
  }

  #isLive(receivedAt: number): boolean {
    return receivedAt >= this.#watermark - this.windowMs;
  }

  #set(key: string, receivedAt: number): void {
    // Delete first so the key moves to the end of the insertion order that eviction walks.
    if (this.#entries.delete(key)) this.#keyChars -= key.length;
    this.#entries.set(key, receivedAt);
    this.#keyChars += key.length;
  }
}
