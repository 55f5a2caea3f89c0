// Reading and replaying failed events, whichever backend keeps them: the embedded database or
// the Kafka topic. The admin API and the `inlet failed` commands use only this.
import type { FailedEvent } from './failed-event.ts';

export type FailedStatus = 'failed' | 'replayed';

/** A failed event and where it stands. */
export interface FailedView extends FailedEvent {
  /** `failed`: waiting; `replayed`: stored by a replay (kept until retention drops it) */
  status: FailedStatus;
  replayedAt: string | null;
}

export interface FailedFilter {
  /** one entry */
  id?: string;
  sourceId?: string;
  reason?: string;
  sinceMs?: number;
  untilMs?: number;
  /** default `failed` (still waiting) */
  status?: FailedStatus | 'all';
}

/** A `before` that is not a cursor this store gave out. */
export class InvalidCursorError extends RangeError {
  override name = 'InvalidCursorError';
}

export interface FailedPage {
  failed: FailedView[];
  /** pass as `before` for the next (older) page; null when there is none */
  next: string | null;
}

export interface ReplaySummary {
  dryRun: boolean;
  /** failed entries looked at */
  matched: number;
  /** entries that pass now (stored, or would be with dryRun) */
  passed: number;
  /** events stored by this replay */
  stored: number;
  /** events of passing entries that were stored already (same source and messageId) */
  duplicates: number;
  /** entries that still fail (they stay, with today's reasons) */
  stillFailing: number;
}

export interface ReplayOptions {
  dryRun?: boolean;
  /** called after each chunk */
  onProgress?(summary: ReplaySummary): void;
}

export interface FailedStore {
  readonly kind: string;
  /** newest first */
  list(filter: FailedFilter, limit: number, before?: string): Promise<FailedPage>;
  get(id: string): Promise<FailedView | undefined>;
  replay(filter: FailedFilter, options?: ReplayOptions): Promise<ReplaySummary>;
  close(): Promise<void>;
}

export const emptySummary = (dryRun: boolean): ReplaySummary => ({ dryRun, matched: 0, passed: 0, stored: 0, duplicates: 0, stillFailing: 0 });
