// A sink whose writes wait until the test lets them through: a disk or broker that is behind.
import { EmbeddedSink } from '../src/sinks/embedded-sink.ts';
import type { Sink, StoredEvent, Written } from '../src/sinks/sink.ts';
import type { FailedRecord } from '../src/failed/failed-event.ts';

/** The embedded sink with a gate in front: writes wait until the test opens it (a disk that is behind). */
export class GatedSink implements Sink {
  readonly kind = 'embedded';
  readonly inner: EmbeddedSink;
  open = true;
  private held: (() => void)[] = [];

  constructor(dataDir: string) {
    this.inner = new EmbeddedSink({ dataDir, writeTimeoutMs: 10_000 });
  }

  get waiting(): number {
    return this.held.length;
  }

  get batches(): number {
    return this.inner.batches;
  }

  async write(events: readonly StoredEvent[], failed?: readonly FailedRecord[]): Promise<Written> {
    if (!this.open) await new Promise<void>((resolve) => this.held.push(resolve));
    return this.inner.write(events, failed);
  }

  release(): void {
    this.open = true;
    for (const go of this.held.splice(0)) go();
  }

  ready(): Promise<boolean> {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
