// Failed events in the embedded database. Reads go through a read-only connection; a replay's
// writes go through the database writer (the server's own, or one a command starts), a chunk per
// transaction: a replay killed half way leaves whole chunks done, and running it again does the rest.
import type { Limits } from '@inlet/schema';
import type { DatabaseReader, FailedRow } from '../db/reader.ts';
import type { DatabaseWriter, ReplayedEvent, StillFailing } from '../db/writer.ts';
import { failedRecord } from './failed-event.ts';
import { emptySummary, InvalidCursorError, type FailedFilter, type FailedPage, type FailedStore, type FailedView, type ReplayOptions, type ReplaySummary } from './failed-store.ts';
import type { PlanLookup } from '../plans/registry.ts';
import { recheck } from './recheck.ts';

/** Entries per replay transaction. */
const REPLAY_CHUNK = 500;

const view = (row: FailedRow): FailedView => ({ ...row.entry, status: row.status, replayedAt: row.replayedAt });

export interface EmbeddedFailedStoreOptions {
  reader: DatabaseReader;
  /** needed to replay (not to read) */
  writer?: DatabaseWriter;
  /** today's limits, which a replay checks against */
  limits: Limits;
  /** told how many entries of a source a replay stored (for the server's counters) */
  onReplayed?(sourceId: string, entries: number): void;
  /** each source's tracking plan now, which a replay checks events against */
  plans?: PlanLookup;
}

export class EmbeddedFailedStore implements FailedStore {
  readonly kind = 'embedded';

  private readonly options: EmbeddedFailedStoreOptions;

  constructor(options: EmbeddedFailedStoreOptions) {
    this.options = options;
  }

  async list(filter: FailedFilter, limit: number, before?: string): Promise<FailedPage> {
    const beforeSeq = before === undefined ? undefined : Number(before);
    if (beforeSeq !== undefined && !(Number.isSafeInteger(beforeSeq) && /^\d+$/.test(before!))) throw new InvalidCursorError(`not a page cursor: ${before}`);
    // One row more than a page says whether there is a next one (a full page is not enough: the last may be exactly full).
    const rows = this.options.reader.failedPage(filter, limit + 1, beforeSeq);
    const page = rows.slice(0, limit);
    return { failed: page.map(view), next: rows.length > limit ? String(page[page.length - 1].seq) : null };
  }

  async get(id: string): Promise<FailedView | undefined> {
    const row = this.options.reader.failedById(id);
    return row && view(row);
  }

  async replay(filter: FailedFilter, options: ReplayOptions = {}): Promise<ReplaySummary> {
    const { reader, writer, limits } = this.options;
    const dryRun = options.dryRun ?? false;
    if (!writer && !dryRun) throw new Error('EmbeddedFailedStore: replaying needs a writer');
    const summary = emptySummary(dryRun);
    // Entries that arrive while this runs wait for the next replay: a flood cannot keep it going.
    const lastSeq = reader.lastFailedSeq();
    let afterSeq = 0;
    for (;;) {
      const rows = reader.failedAfter({ ...filter, status: 'failed' }, afterSeq, REPLAY_CHUNK).filter((row) => row.seq <= lastSeq);
      if (rows.length === 0) break;
      afterSeq = rows[rows.length - 1].seq;
      const replayed: ReplayedEvent[] = [];
      const stillFailing: StillFailing[] = [];
      const passedBySource = new Map<string, number>();
      for (const { entry } of rows) {
        summary.matched++;
        const outcome = recheck(entry, limits, await this.options.plans?.(entry.sourceId));
        if (outcome.ok) {
          summary.passed++;
          for (const event of outcome.events) replayed.push({ failedId: entry.id, event });
          passedBySource.set(entry.sourceId, (passedBySource.get(entry.sourceId) ?? 0) + 1);
          continue;
        }
        summary.stillFailing++;
        const unchanged = outcome.reason === entry.reason && JSON.stringify(outcome.errors) === JSON.stringify(entry.errors);
        if (!unchanged) stillFailing.push({ failedId: entry.id, record: failedRecord({ ...entry, reason: outcome.reason, errors: outcome.errors, plan: outcome.plan }) });
      }
      if (!dryRun && (replayed.length > 0 || stillFailing.length > 0)) {
        const written = await writer!.replay(replayed, stillFailing);
        summary.stored += written.stored;
        summary.duplicates += written.duplicates;
        for (const [sourceId, entries] of passedBySource) this.options.onReplayed?.(sourceId, entries);
      }
      options.onProgress?.({ ...summary });
      if (rows.length < REPLAY_CHUNK) break;
    }
    return summary;
  }

  async close(): Promise<void> {
    this.options.reader.close();
  }
}
