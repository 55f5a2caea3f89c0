// Live events on the embedded store: the database writer tells us each time it committed, and we
// read what was added since the last position we read (a range of the tables' primary keys, never
// a scan), at most every READ_EVERY_MS, so a burst of commits costs one read. A read is bounded:
// when more came than that, the rest is skipped and counted, not read.
import type { DatabaseReader } from '../db/reader.ts';
import type { DatabaseWriter } from '../db/writer.ts';
import { failedEvent, storedEvent, type LiveEvent, type LiveOrigin } from './live-hub.ts';

const READ_EVERY_MS = 100;
// The page keeps the last 500 events, so more per read only costs ingestion CPU: at 2,000 rows per
// read (20,000 events/s decoded for the viewers) one viewer took a quarter of W1's throughput on
// the bench; past 500 a read skips to the newest and says how many it skipped.
const MAX_ROWS_PER_READ = 500;

/** A row that is not an event's JSON (it never should be) is left out rather than stopping the view at it. */
function decode(as: (json: string) => LiveEvent, json: string): LiveEvent | undefined {
  try {
    return as(json);
  } catch {
    return undefined;
  }
}

export class EmbeddedLiveOrigin implements LiveOrigin {
  private readonly writer: DatabaseWriter;
  private readonly reader: DatabaseReader;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastRead = 0;
  private eventSeq = 0;
  private failedSeq = 0;
  private emit: (events: LiveEvent[]) => void = () => {};
  private lost: (count: number) => void = () => {};

  constructor(writer: DatabaseWriter, reader: DatabaseReader) {
    this.writer = writer;
    this.reader = reader;
  }

  async start(emit: (events: LiveEvent[]) => void, lost: (count: number) => void): Promise<void> {
    this.emit = emit;
    this.lost = lost;
    this.eventSeq = this.reader.lastEventSeq();
    this.failedSeq = this.reader.lastFailedSeq();
    this.unsubscribe = this.writer.onCommitted(() => this.schedule());
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || !this.unsubscribe) return;
    const wait = Math.max(0, this.lastRead + READ_EVERY_MS - Date.now());
    this.timer = setTimeout(() => { this.timer = undefined; this.read(); }, wait);
  }

  private read(): void {
    if (!this.unsubscribe) return;
    this.lastRead = Date.now();
    try {
      const events = this.reader.eventsAfter(this.eventSeq, MAX_ROWS_PER_READ);
      const failed = this.reader.failedEntriesAfter(this.failedSeq, MAX_ROWS_PER_READ);
      const out: LiveEvent[] = [];
      for (const row of events) { const e = decode(storedEvent, row.body); if (e) out.push(e); }
      for (const row of failed) { const e = decode(failedEvent, row.body); if (e) out.push(e); }
      if (events.length > 0) this.eventSeq = events[events.length - 1].seq;
      if (failed.length > 0) this.failedSeq = failed[failed.length - 1].seq;
      if (out.length > 0) this.emit(out);
      let skipped = 0;
      if (events.length === MAX_ROWS_PER_READ) {
        const newest = this.reader.lastEventSeq();
        skipped += newest - this.eventSeq;
        this.eventSeq = newest;
      }
      if (failed.length === MAX_ROWS_PER_READ) {
        const newest = this.reader.lastFailedSeq();
        skipped += newest - this.failedSeq;
        this.failedSeq = newest;
      }
      if (skipped > 0) this.lost(skipped);
    } catch {
      // Busy or a transient I/O error: the next commit reads from the same positions.
    }
  }
}
