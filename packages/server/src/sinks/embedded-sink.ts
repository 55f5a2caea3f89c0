// The embedded sink: events and failed events go to the embedded database through its writer
// thread (group commit, synchronous=FULL). The database itself lives in ../db.
import { DatabaseWriter, type DatabaseWriterOptions } from '../db/writer.ts';
import type { FailedRecord } from '../failed/failed-event.ts';
import type { Sink, StoredEvent, Written } from './sink.ts';

export type EmbeddedSinkOptions = DatabaseWriterOptions;

export class EmbeddedSink implements Sink {
  readonly kind = 'embedded';
  readonly writer: DatabaseWriter;

  constructor(options: EmbeddedSinkOptions) {
    this.writer = new DatabaseWriter(options);
  }

  write(events: readonly StoredEvent[], failed: readonly FailedRecord[] = []): Promise<Written> {
    return this.writer.write(events, failed);
  }

  async ready(): Promise<boolean> {
    return this.writer.ready();
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
