// Messages between the embedded sink (main thread) and its SQLite writer (worker thread).

/**
 * Rows laid end to end, four values each (sourceId, messageId, receivedAtMs, body): one flat array
 * is cheaper to copy between threads than an array per row.
 */
export type WriterRows = (string | number)[];
export const ROW_WIDTH = 4;
export interface WriterRequest { id: number; rows: WriterRows }
export type WriterReply = { id: number; ok: true; inserted: number } | { id: number; ok: false; error: string };
