// Reading the embedded database: stored events (inlet tail), failed events (list, show, replay)
// and the per-source counts. Readers never block the writer (WAL) and never write.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { NormalizedRecord } from '@inlet/schema';
import type { FailedEvent } from '../failed/failed-event.ts';
import type { FailedFilter, FailedStatus } from '../failed/failed-store.ts';
import { asDamaged, databaseFile } from './database.ts';

export interface StoredRow {
  seq: number;
  record: NormalizedRecord;
}

/** Events in the embedded store after `afterSeq`, oldest first. Opens read-only: safe beside a running server. */
export function readStoredEvents(dataDir: string, afterSeq = 0, limit = 10_000): StoredRow[] {
  const file = databaseFile(dataDir);
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
    if (!hasTable) return [];
    return db.prepare<[number, number], { seq: number; body: string }>('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit)
      .map((row) => ({ seq: row.seq, record: JSON.parse(row.body) as NormalizedRecord }));
  } catch (error) {
    throw asDamaged(error, file);
  } finally {
    db.close();
  }
}

/** A failed event as stored, with where it stands. */
export interface FailedRow {
  seq: number;
  status: FailedStatus;
  replayedAt: string | null;
  entry: FailedEvent;
}

/** One per-source count as stored: per minute, outcome (stored, duplicate, failed, replayed) and reason. */
export interface OutcomeRow {
  sourceId: string;
  outcome: string;
  reason: string;
  count: number;
  minute: number;
}

interface RawFailed { seq: number; status: FailedStatus; replayed_at: number | null; entry: string }

const toFailedRow = (row: RawFailed): FailedRow => ({
  seq: row.seq,
  status: row.status,
  replayedAt: row.replayed_at === null ? null : new Date(row.replayed_at).toISOString(),
  entry: JSON.parse(row.entry) as FailedEvent,
});

function where(filter: FailedFilter): { sql: string; params: (string | number)[] } {
  const clauses: string[] = [];
  const params: (string | number)[] = [];
  if (filter.id !== undefined) { clauses.push('id = ?'); params.push(filter.id); }
  if (filter.sourceId !== undefined) { clauses.push('source_id = ?'); params.push(filter.sourceId); }
  if (filter.reason !== undefined) { clauses.push('reason = ?'); params.push(filter.reason); }
  if (filter.sinceMs !== undefined) { clauses.push('received_at >= ?'); params.push(filter.sinceMs); }
  if (filter.untilMs !== undefined) { clauses.push('received_at < ?'); params.push(filter.untilMs); }
  const status = filter.status ?? 'failed';
  if (status !== 'all') { clauses.push('status = ?'); params.push(status); }
  return { sql: clauses.length ? clauses.join(' AND ') : '1', params };
}

/** One read-only connection, kept open by a server (admin API) or a command. */
export class DatabaseReader {
  private readonly db: Database.Database;
  // Prepared once: the live view runs these after every commit while someone watches.
  private eventsAfterStatement: Database.Statement<[number, number], { seq: number; body: string }> | undefined;
  private failedAfterStatement: Database.Statement<[number, number], { seq: number; body: string }> | undefined;
  // The live view asks for these every 100 ms while someone watches: prepared once.
  private lastEventStatement: Database.Statement<[], { seq: number | null }> | undefined;
  private lastFailedStatement: Database.Statement<[], { seq: number | null }> | undefined;

  /** The database must exist and be migrated (the writer or openDatabase does both). */
  constructor(dataDir: string) {
    this.db = new Database(databaseFile(dataDir), { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
  }

  /** Newest first; `beforeSeq` continues a previous page. */
  failedPage(filter: FailedFilter, limit: number, beforeSeq?: number): FailedRow[] {
    const w = where(filter);
    const seq = beforeSeq === undefined ? '' : ' AND seq < ?';
    return this.db.prepare<(string | number)[], RawFailed>(`SELECT seq, status, replayed_at, entry FROM failed_events WHERE ${w.sql}${seq} ORDER BY seq DESC LIMIT ?`)
      .all(...w.params, ...(beforeSeq === undefined ? [] : [beforeSeq]), limit)
      .map(toFailedRow);
  }

  /** Oldest first, after `afterSeq`: how a replay walks the entries. */
  failedAfter(filter: FailedFilter, afterSeq: number, limit: number): FailedRow[] {
    const w = where(filter);
    return this.db.prepare<(string | number)[], RawFailed>(`SELECT seq, status, replayed_at, entry FROM failed_events WHERE ${w.sql} AND seq > ? ORDER BY seq LIMIT ?`)
      .all(...w.params, afterSeq, limit)
      .map(toFailedRow);
  }

  /** the newest entry's position, so a replay stops at what was there when it started */
  lastFailedSeq(): number {
    this.lastFailedStatement ??= this.db.prepare('SELECT max(seq) AS seq FROM failed_events');
    return this.lastFailedStatement.get()?.seq ?? 0;
  }

  failedById(id: string): FailedRow | undefined {
    const row = this.db.prepare<[string], RawFailed>('SELECT seq, status, replayed_at, entry FROM failed_events WHERE id = ?').get(id);
    return row && toFailedRow(row);
  }

  /** Stored events after position `afterSeq`, oldest first, as stored (JSON): what the live view reads after each commit. */
  eventsAfter(afterSeq: number, limit: number): { seq: number; body: string }[] {
    this.eventsAfterStatement ??= this.db.prepare('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    return this.eventsAfterStatement.all(afterSeq, limit);
  }

  /** Failed entries added after position `afterSeq`, oldest first, as stored (JSON). */
  failedEntriesAfter(afterSeq: number, limit: number): { seq: number; body: string }[] {
    this.failedAfterStatement ??= this.db.prepare('SELECT seq, entry AS body FROM failed_events WHERE seq > ? ORDER BY seq LIMIT ?');
    return this.failedAfterStatement.all(afterSeq, limit);
  }

  /** the newest stored event's position (0 when there is none) */
  lastEventSeq(): number {
    this.lastEventStatement ??= this.db.prepare('SELECT max(seq) AS seq FROM events');
    return this.lastEventStatement.get()?.seq ?? 0;
  }

  /**
   * A source's stored events with positions in [fromSeq, toSeq) received at or after `sinceMs`,
   * and the latest receivedAt of any event in that range that was not replayed (null when it has
   * none): a scan back in time stops once that is older than `sinceMs`. Ranges keep each read short beside a running server.
   */
  sourceEventsIn(sourceId: string, sinceMs: number, fromSeq: number, toSeq: number): { records: NormalizedRecord[]; latestMs: number | null } {
    // A replayed event is stored at a new position with the time it first arrived: it says nothing
    // of what came before it, so it does not count here. The server's own mark, by its path: a
    // "replayed" property of the event's own does not make it one.
    const latestMs = this.db.prepare<[number, number], { at: number | null }>(`SELECT max(received_at) AS at FROM events WHERE seq >= ? AND seq < ? AND json_extract(body, '$.context.inlet.replayed') IS NULL`).get(fromSeq, toSeq)?.at ?? null;
    const records = this.db.prepare<[number, number, string, number], { body: string }>('SELECT body FROM events WHERE seq >= ? AND seq < ? AND source_id = ? AND received_at >= ? ORDER BY seq DESC')
      .all(fromSeq, toSeq, sourceId, sinceMs)
      .map((row) => JSON.parse(row.body) as NormalizedRecord);
    return { records, latestMs };
  }

  /** Per-source counts from `sinceMs` on (whole minutes: the one containing sinceMs is included). */
  outcomes(sinceMs: number, sourceId?: string): OutcomeRow[] {
    const minute = Math.floor(sinceMs / 60_000);
    const bySource = sourceId === undefined ? '' : ' AND source_id = ?';
    return this.db.prepare<(string | number)[], { source_id: string; outcome: string; reason: string; count: number; minute: number }>(
      `SELECT source_id, outcome, reason, count, minute FROM source_stats WHERE minute >= ?${bySource} ORDER BY minute`,
    ).all(minute, ...(sourceId === undefined ? [] : [sourceId]))
      .map((r) => ({ sourceId: r.source_id, outcome: r.outcome, reason: r.reason, count: r.count, minute: r.minute }));
  }

  close(): void {
    this.db.close();
  }
}
