// Live events on the embedded store: the database writer tells us each time it committed, and we
// read what was added since the last position we read (a range of the tables' primary keys, never
// a scan), at most every READ_EVERY_MS, so a burst of commits costs one read. A read is bounded:
// when more came than that, the older ones are skipped and counted, never read.
import type { DatabaseReader } from '../db/reader.ts';
import type { DatabaseWriter } from '../db/writer.ts';
import { failedEvent, LIVE_EVENTS_PER_WINDOW, LIVE_WINDOW_MS, storedEvent, type LiveEvent, type LiveOrigin } from './live-hub.ts';

// The live budget (live-hub.ts) per read, and a read at most every window. Reading the oldest rows
// and then skipping would still parse rows nobody sees: a read jumps to the newest first.
const READ_EVERY_MS = LIVE_WINDOW_MS;
const MAX_ROWS_PER_READ = LIVE_EVENTS_PER_WINDOW;

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
      // Only the newest MAX_ROWS_PER_READ will be shown: jump over the older ones before reading
      // anything (positions are rowids, so the newest is one index lookup and the jump is
      // arithmetic), rather than reading and parsing rows the page would push out at once.
      let skipped = 0;
      const newestEvent = this.reader.lastEventSeq();
      if (newestEvent - this.eventSeq > MAX_ROWS_PER_READ) {
        skipped += newestEvent - MAX_ROWS_PER_READ - this.eventSeq;
        this.eventSeq = newestEvent - MAX_ROWS_PER_READ;
      }
      const newestFailed = this.reader.lastFailedSeq();
      if (newestFailed - this.failedSeq > MAX_ROWS_PER_READ) {
        skipped += newestFailed - MAX_ROWS_PER_READ - this.failedSeq;
        this.failedSeq = newestFailed - MAX_ROWS_PER_READ;
      }
      if (skipped > 0) this.lost(skipped);
      // Rows committed since the lookups wait for the next read (their commit schedules it).
      const events = this.eventSeq < newestEvent ? this.reader.eventsAfter(this.eventSeq, newestEvent - this.eventSeq) : [];
      const failed = this.failedSeq < newestFailed ? this.reader.failedEntriesAfter(this.failedSeq, newestFailed - this.failedSeq) : [];
      const out: LiveEvent[] = [];
      for (const row of events) { const e = decode(storedEvent, row.body); if (e) out.push(e); }
      for (const row of failed) { const e = decode(failedEvent, row.body); if (e) out.push(e); }
      // A gap in the rowids lets the LIMIT reach past the newest looked up: never read those twice.
      this.eventSeq = Math.max(newestEvent, events.at(-1)?.seq ?? 0);
      this.failedSeq = Math.max(newestFailed, failed.at(-1)?.seq ?? 0);
      if (out.length > 0) this.emit(out);
    } catch {
      // Busy or a transient I/O error: the next commit reads from the same positions.
    }
  }
}
