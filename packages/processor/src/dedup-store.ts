// The dedup memory of one input partition: dedup key → receivedAt (ms) of the last kept event,
// plus the partition's watermark (the highest receivedAt processed so far, never more than
// `graceMs` ahead of the wall clock, so one record with a wild receivedAt cannot expire the rest).
//
// A repeat is the same key within `windowMs` of the last kept occurrence (|Δ receivedAt|). An entry
// only counts while it is "live": not older than watermark − window − grace. Records of one
// partition arrive in receivedAt order give or take `graceMs` (receivedAt is server time), so
// every pair closer than the window is still live when its second half arrives. Liveness makes
// each decision independent of when eviction ran, which is what lets a copy restored from the
// changelog (entries + the last watermark) decide exactly like the copy that crashed.

/** V8 heap per entry besides the key's characters: Map slots, key string header, boxed number (bench/processor.ts). */
export const ENTRY_OVERHEAD_BYTES = 70;

/** Live entries eviction may step over looking for expired ones that arrived out of order. */
const EVICTION_LOOKAHEAD = 1000;

export class DedupStore {
  readonly windowMs: number;
  readonly graceMs: number;
  #entries = new Map<string, number>();
  #watermark = Number.NEGATIVE_INFINITY;
  #keyChars = 0;

  constructor(windowMs: number, graceMs = 0) {
    this.windowMs = windowMs;
    this.graceMs = graceMs;
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
   * Decides whether the event is a repeat and, when it is not, remembers it. `now` (wall clock)
   * caps how far this event may move the watermark; leave it out for a pure, replayable decision.
   */
  decide(key: string, receivedAt: number, now = Number.POSITIVE_INFINITY): boolean {
    const advance = Math.min(receivedAt, now + this.graceMs);
    if (advance > this.#watermark) this.#watermark = advance;
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
   * Drops entries that can no longer make anything a duplicate. Entries sit in insertion order,
   * which follows receivedAt closely, so the walk ends after a run of live entries; an expired one
   * further back waits for a later call, which costs a little memory, never correctness.
   */
  evict(): number {
    const horizon = this.#horizon();
    let evicted = 0;
    let live = 0;
    for (const [key, receivedAt] of this.#entries) {
      if (receivedAt >= horizon) {
        if (++live >= EVICTION_LOOKAHEAD) break;
        continue;
      }
      this.#entries.delete(key);
      this.#keyChars -= key.length;
      evicted++;
    }
    return evicted;
  }

  #horizon(): number {
    return this.#watermark - this.windowMs - this.graceMs;
  }

  #isLive(receivedAt: number): boolean {
    return receivedAt >= this.#horizon();
  }

  #set(key: string, receivedAt: number): void {
    // Delete first so the key moves to the end of the insertion order that eviction walks.
    if (this.#entries.delete(key)) this.#keyChars -= key.length;
    this.#entries.set(key, receivedAt);
    this.#keyChars += key.length;
  }
}
