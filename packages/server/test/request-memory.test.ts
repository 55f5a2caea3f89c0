// While a request waits for the sink to make its events durable (a group commit, or the brokers'
// acknowledgement: milliseconds, or seconds when the sink is behind), the main thread must not keep
// the request's parsed body or its records: the sink has what it writes. A suspended async function
// keeps every local alive, so a route that awaited the sink where it parsed would keep them all,
// and each scavenge of the young generation would copy them (bench/LOG.md, 2026-12-04 evening).
// The records are what this can see from the sink's side; the body was held by the same locals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { newMessageId } from '@inlet/schema';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { EmbeddedSink } from '../src/sinks/embedded-sink.ts';
import type { Sink, StoredEvent, Written } from '../src/sinks/sink.ts';
import type { FailedRecord } from '../src/failed/failed-event.ts';
import { postJson } from './http-client.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The embedded sink, answering only when the test says so; it notes (weakly) the records it was given. */
class HeldSink implements Sink {
  readonly kind = 'embedded';
  readonly inner: EmbeddedSink;
  readonly records: WeakRef<object>[] = [];
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

  write(events: readonly StoredEvent[], failed?: readonly FailedRecord[]): Promise<Written> {
    for (const { record } of events) this.records.push(new WeakRef(record));
    const written = this.inner.write(events, failed);
    return new Promise<void>((resolve) => this.held.push(resolve)).then(() => written);
  }

  release(): void {
    for (const go of this.held.splice(0)) go();
  }

  ready(): Promise<boolean> {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

let inlet: TestInlet;
let sink: HeldSink;
let dataDir: string;
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'inlet-request-memory-'));
  sink = new HeldSink(dataDir);
  inlet = await startInlet({ dataDir }, { sink });
});
after(async () => {
  sink.release();
  await inlet.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a request waiting for the sink does not keep its records alive', async () => {
  const batch = () => ({ batch: Array.from({ length: 50 }, (_, i) => ({ type: 'track', event: 'Clicked', userId: `u-${i}`, messageId: newMessageId(), properties: { i } })) });
  const replies = Array.from({ length: 4 }, () => postJson(inlet.url, '/v1/batch', batch(), inlet.writeKey));
  for (let i = 0; i < 500 && sink.waiting < 4; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(sink.waiting, 4, 'four requests wait for the sink');
  // The embedded sink has its rows by now (its commit is not held, only the answer).
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const alive = sink.records.filter((ref) => ref.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of ${sink.records.length} records still reachable while their requests wait`);

  sink.release();
  for (const reply of await Promise.all(replies)) assert.equal(reply.status, 200, reply.text);
  assert.equal((await inlet.events()).length, 200);
});
