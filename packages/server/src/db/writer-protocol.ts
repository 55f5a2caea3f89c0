// Messages between the database writer (main thread) and its thread.

/**
 * Rows laid end to end in one flat array (cheaper to copy between threads than an array per row).
 * Events: sourceId, messageId, receivedAtMs, body. Failed events: id, sourceId, receivedAtMs,
 * reason, entry (the failed event as JSON).
 */
export type WriterRows = (string | number)[];
export const EVENT_WIDTH = 4;
export const FAILED_WIDTH = 5;

/** The writes of concurrent requests, committed together; `segments` holds each request's number of events. */
export interface IngestCommit {
  kind: 'ingest';
  id: number;
  events: WriterRows;
  segments: number[];
  failed: WriterRows;
}

/**
 * One chunk of a replay: events that pass now, each with the id of the failed entry it came from
 * (`replayedIds[i]` belongs to the i-th event), and entries that still fail, as rows of
 * id, reason, entry.
 */
export interface ReplayCommit {
  kind: 'replay';
  id: number;
  events: WriterRows;
  replayedIds: string[];
  stillFailing: WriterRows;
  atMs: number;
}
export const STILL_FAILING_WIDTH = 3;

export type WriterRequest = IngestCommit | ReplayCommit | { kind: 'close' };

export type WriterReply =
  /** ingest: events inserted per segment (the rest were duplicates); replay: [entries replayed, events stored, duplicates] */
  | { kind: 'committed'; id: number; inserted: number[] }
  | { kind: 'failed'; id: number; error: string }
  /** failed events dropped by retention or by the size cap since the last report */
  | { kind: 'dropped'; retention: number; size: number }
  /** the database file was deleted or replaced under the writer: nothing it commits can be kept */
  | { kind: 'gone'; error: string }
  /** the file a thread opened (a thread started again must find the same one) */
  | { kind: 'opened'; dev: number; ino: number };

export interface WriterOptions {
  file: string;
  /** a thread started again: the file the first one opened */
  expected?: { dev: number; ino: number };
  /** failed events older than this are deleted */
  failedRetentionMs: number;
  /** failed events beyond this many bytes are deleted: the oldest of the source holding the most first */
  failedMaxBytes: number;
  /** whether this writer applies retention and the size cap (the server's does; a command's, which may not know the server's settings, does not) */
  maintain: boolean;
}
