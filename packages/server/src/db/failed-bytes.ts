// The writer thread's count of failed-event bytes, by source and in all, as the size cap counts
// them (each entry's JSON). A browser source's write key is public, and one request of 2 KB can
// add 1000 failed entries: were the oldest entries of all sources deleted first, one client
// flooding one source would push every other source's failed events out of the store. So the cap
// takes from whichever source holds the most, and needs every source's bytes at hand: kept here,
// in memory, so a commit's cap check costs a comparison, not a query. The writer thread is the
// only one adding entries; it also applies every deletion (cap, retention) and replay to these
// counts, and reads them again from the index at start and now and then.
//
// No database here: the thread does the SQL, this keeps the numbers.

export class FailedBytes {
  /** bytes of every source's entries */
  total = 0;
  private readonly bySource = new Map<string, number>();
  /**
   * While a transaction is open: each source it changed, with its bytes before the first change
   * (and the total before), so a rolled-back commit leaves no counts behind — the cap would
   * otherwise delete entries of a source (or a store) under it.
   */
  private before: Map<string, number> | undefined;
  private totalBefore = 0;

  of(sourceId: string): number {
    return this.bySource.get(sourceId) ?? 0;
  }

  /** Adds `bytes` (negative for a deletion) to a source's count and the total. */
  add(sourceId: string, bytes: number): void {
    if (bytes === 0) return;
    const was = this.of(sourceId);
    if (this.before && !this.before.has(sourceId)) this.before.set(sourceId, was);
    this.set(sourceId, was + bytes);
    this.total += bytes;
  }

  /** A source has no entries left, whatever was counted (another process changed sizes since the last recount). */
  forget(sourceId: string): void {
    this.add(sourceId, -this.of(sourceId));
  }

  /** The counts as the database has them now: rows of (source, bytes). */
  recount(rows: Iterable<{ sourceId: string; bytes: number }>): void {
    this.bySource.clear();
    this.total = 0;
    for (const { sourceId, bytes } of rows) {
      this.set(sourceId, bytes);
      this.total += bytes;
    }
  }

  /** Sources holding entries, the one holding the most first. */
  largestFirst(): [sourceId: string, bytes: number][] {
    return [...this.bySource].sort((a, b) => b[1] - a[1]);
  }

  begin(): void {
    this.before = new Map();
    this.totalBefore = this.total;
  }

  commit(): void {
    this.before = undefined;
  }

  rollback(): void {
    if (!this.before) return;
    for (const [sourceId, bytes] of this.before) this.set(sourceId, bytes);
    this.total = this.totalBefore;
    this.before = undefined;
  }

  // A source whose entries are all gone leaves the map: revoked sources do not pile up in it.
  private set(sourceId: string, bytes: number): void {
    if (bytes > 0) this.bySource.set(sourceId, bytes);
    else this.bySource.delete(sourceId);
  }
}

/**
 * The most bytes one source may keep for all of them to fit in `target`: sources at or under it
 * keep every entry, each one over it is cut down to it. It is where taking, again and again, from
 * whichever source holds the most comes to: the flooding source gives way first, and only down to
 * the next largest, then both give way together, and so on. `largestFirst` is each source's bytes,
 * the largest first.
 */
export function fairLevel(largestFirst: readonly number[], target: number): number {
  // bytes of the sources after the k-th, which keep all they have if the level falls between
  let rest = largestFirst.reduce((sum, bytes) => sum + bytes, 0);
  for (let k = 0; k < largestFirst.length; k++) {
    rest -= largestFirst[k];
    const level = Math.floor((target - rest) / (k + 1));
    if (level >= (largestFirst[k + 1] ?? 0)) return Math.max(0, level);
  }
  return 0;
}
