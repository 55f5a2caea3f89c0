// The embedded sink: events and failed events go to the embedded database through its writer
// thread (group commit, synchronous=FULL). The database itself lives in ../db.
import { statfs } from 'node:fs/promises';
import { DatabaseWriter, type DatabaseWriterOptions } from '../db/writer.ts';
import type { FailedRecord } from '../failed/failed-event.ts';
import type { Sink, StoredEvent, Written } from './sink.ts';

export type EmbeddedSinkOptions = DatabaseWriterOptions;

/**
 * Below this much free space in the data directory's filesystem the store says it is not ready: a
 * group commit needs room for its WAL frames and the checkpoint after it, and a load balancer should
 * move traffic away before writes start failing with SQLITE_FULL, not after.
 */
export const MIN_FREE_BYTES = 16 * 1024 * 1024;

export class EmbeddedSink implements Sink {
  readonly kind = 'embedded';
  readonly writer: DatabaseWriter;
  readonly #dataDir: string;

  constructor(options: EmbeddedSinkOptions) {
    this.writer = new DatabaseWriter(options);
    this.#dataDir = options.dataDir;
  }

  write(events: readonly StoredEvent[], failed: readonly FailedRecord[] = []): Promise<Written> {
    return this.writer.write(events, failed);
  }

  /** Ready when the writer's last outcome was a commit and the disk has room for more. */
  async ready(): Promise<boolean> {
    if (!this.writer.ready()) return false;
    return (await this.freeBytes()) >= MIN_FREE_BYTES;
  }

  /** Free bytes an unprivileged process may use in the data directory's filesystem. */
  async freeBytes(): Promise<number> {
    const { bavail, bsize } = await statfs(this.#dataDir);
    return bavail * bsize;
  }

  get batches(): number {
    return this.writer.commits;
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
