// The publisher's bookkeeping, with a transport whose answers the test controls. Delivery over
// real HTTP and Kafka is covered by the integration tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Publisher, type DropInfo } from '../src/publisher.ts';
import { resolveSettings, type ServerAnalyticsOptions } from '../src/settings.ts';
import type { Prepared, SendOutcome, Transport } from '../src/transports/transport.ts';

class ScriptedTransport implements Transport<string> {
  readonly itemOverheadBytes = 1;
  readonly maxInFlight: number;
  constructor(maxInFlight: number) {
    this.maxInFlight = maxInFlight;
  }
  readonly sent: { items: string[]; answer: (o: SendOutcome) => void }[] = [];
  prepare(): Prepared<string> { throw new Error('unused'); }
  send(items: string[]): Promise<SendOutcome> {
    return new Promise((answer) => this.sent.push({ items: [...items], answer }));
  }
  async close(): Promise<void> {}
}

function setup(options: Partial<ServerAnalyticsOptions> = {}, transportInFlight?: number) {
  const settings = resolveSettings({ writeKey: 'k', endpoint: 'http://127.0.0.1:1', flushIntervalMs: 3_600_000, minRetryDelayMs: 1, maxRetryDelayMs: 2, ...options });
  const transport = new ScriptedTransport(transportInFlight ?? settings.maxInFlight);
  const drops: DropInfo[] = [];
  const publisher = new Publisher(transport, settings, { onDrop: (d) => drops.push(d), onError: () => undefined });
  return { transport, publisher, drops };
}

const tick = () => new Promise((r) => setImmediate(r));

test('flush waits for every earlier batch even when later ones settle first', async () => {
  const { transport, publisher } = setup({ maxBatchSize: 2 });
  for (const e of ['a', 'b', 'c', 'd', 'e']) publisher.enqueue(e, 10);
  let flushed = false;
  const flush = publisher.flush().then(() => { flushed = true; });
  assert.deepEqual(transport.sent.map((s) => s.items), [['a', 'b'], ['c', 'd'], ['e']]);
  transport.sent[2].answer({ ok: true, rejected: 0 });
  transport.sent[1].answer({ ok: true, rejected: 0 });
  await tick();
  assert.equal(flushed, false, 'batch 1 is still out');
  transport.sent[0].answer({ ok: true, rejected: 0 });
  await flush;
  assert.equal(publisher.stats().delivered, 5);
  assert.equal(publisher.stats().queued, 0);
});

test('at most maxInFlight batches are out at once; the rest wait their turn', async () => {
  const { transport, publisher } = setup({ maxBatchSize: 1, maxInFlight: 2 });
  for (const e of ['a', 'b', 'c', 'd']) publisher.enqueue(e, 10);
  assert.equal(transport.sent.length, 2);
  transport.sent[0].answer({ ok: true, rejected: 0 });
  await tick();
  assert.equal(transport.sent.length, 3);
  assert.deepEqual(transport.sent[2].items, ['c']);
});

test('a transport that takes one batch at a time gets one at a time, and in order, whatever maxInFlight says', async () => {
  const { transport, publisher } = setup({ maxBatchSize: 1, maxInFlight: 8 }, 1);
  for (const e of ['a', 'b', 'c']) publisher.enqueue(e, 10);
  assert.deepEqual(transport.sent.map((s) => s.items), [['a']]);
  transport.sent[0].answer({ ok: false, retry: true, message: 'broker away' });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(transport.sent.map((s) => s.items), [['a'], ['a']], 'the failed batch goes again before the next one');
  transport.sent[1].answer({ ok: true, rejected: 0 });
  await tick();
  assert.deepEqual(transport.sent.map((s) => s.items), [['a'], ['a'], ['b']]);
});

test('a batch closes before it would pass maxBatchBytes', () => {
  const { transport, publisher } = setup({ maxBatchBytes: 1024, maxInFlight: 64 });
  for (let i = 0; i < 10; i++) publisher.enqueue(`e${i}`, 300);
  publisher.flush();
  assert.deepEqual(transport.sent.map((s) => s.items.length), [3, 3, 3, 1]);
});

test('the server refusing some events of a batch reports them as rejected', async () => {
  const { transport, publisher, drops } = setup();
  publisher.enqueue('a', 1);
  publisher.enqueue('b', 1);
  const flush = publisher.flush();
  transport.sent[0].answer({ ok: true, rejected: 1, message: 'event is required' });
  await flush;
  assert.deepEqual(drops, [{ reason: 'rejected', count: 1, message: 'event is required' }]);
  assert.equal(publisher.stats().delivered, 1);
});

test('abandon() settles everything held, including batches in flight, and releases flush()', async () => {
  const { transport, publisher, drops } = setup({ maxBatchSize: 2, maxInFlight: 1 });
  for (const e of ['a', 'b', 'c', 'd', 'e']) publisher.enqueue(e, 1);
  const flush = publisher.flush();
  publisher.abandon();
  await flush;
  assert.equal(drops.reduce((n, d) => n + d.count, 0), 5);
  assert.ok(drops.every((d) => d.reason === 'shutdown-timeout'));
  transport.sent[0].answer({ ok: true, rejected: 0 }); // a late answer changes nothing
  await tick();
  assert.equal(publisher.stats().delivered, 0);
  assert.equal(publisher.stats().queued, 0);
});

test('the byte bound drops like the count bound', () => {
  const { publisher, drops } = setup({ maxQueueBytes: 64 * 1024, maxBatchSize: 1, maxInFlight: 1 });
  for (let i = 0; i < 5; i++) publisher.enqueue(`e${i}`, 20 * 1024);
  assert.equal(publisher.stats().queued, 3);
  assert.deepEqual(drops.map((d) => d.reason), ['queue-full', 'queue-full']);
});

test('a Retry-After of 0 (or a date already past) does not remove the backoff', async () => {
  const { transport, publisher, drops } = setup({ minRetryDelayMs: 200, maxRetryDelayMs: 1000, maxRetries: 10 });
  publisher.enqueue('a', 1);
  publisher.flush();
  transport.sent[0].answer({ ok: false, retry: true, retryAfterMs: 0, status: 503, message: 'HTTP 503' });
  await new Promise((r) => setTimeout(r, 60));
  // Before: retried at once, 11 requests in ~15 ms, then dropped as retries-exhausted.
  assert.equal(transport.sent.length, 1, 'the first retry waits at least half of minRetryDelayMs');
  assert.deepEqual(drops, []);
  publisher.abandon();
});

test('a Retry-After of days is capped, never turned into a 1 ms timer', async () => {
  const { transport, publisher, drops } = setup({ minRetryDelayMs: 200, maxRetryDelayMs: 1000, maxRetries: 10 });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  try {
    publisher.enqueue('a', 1);
    publisher.flush();
    // 30 days: setTimeout fires anything of 2^31 ms or more after 1 ms, with a TimeoutOverflowWarning
    transport.sent[0].answer({ ok: false, retry: true, retryAfterMs: 30 * 86_400_000, status: 429, message: 'HTTP 429' });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(transport.sent.length, 1, 'not retried at once');
    assert.deepEqual(drops, []);
    assert.deepEqual(warnings.map((w) => w.name), [], 'nothing printed to the host’s stderr');
  } finally {
    process.off('warning', onWarning);
    publisher.abandon();
  }
});

test('a batch refused for its size (413) goes again as halves, ahead of the rest; one event alone is rejected', async () => {
  const { transport, publisher, drops } = setup({ maxBatchSize: 5, maxInFlight: 1 });
  for (const e of ['a', 'b', 'c', 'd', 'e', 'f']) publisher.enqueue(e, 10);
  const flush = publisher.flush();
  const tooLarge: SendOutcome = { ok: false, retry: false, tooLarge: true, status: 413, message: 'HTTP 413' };
  transport.sent[0].answer(tooLarge);
  await tick();
  assert.deepEqual(transport.sent.map((s) => s.items), [['a', 'b', 'c', 'd', 'e'], ['a', 'b', 'c']], 'the first half, before the next batch');
  transport.sent[1].answer(tooLarge);
  await tick();
  assert.deepEqual(transport.sent[2].items, ['a', 'b']);
  transport.sent[2].answer({ ok: true, rejected: 0 });
  await tick();
  assert.deepEqual(transport.sent[3].items, ['c']);
  transport.sent[3].answer(tooLarge); // one event the server will never take
  await tick();
  assert.deepEqual(transport.sent[4].items, ['d', 'e']);
  transport.sent[4].answer({ ok: true, rejected: 0 });
  await tick();
  assert.deepEqual(transport.sent[5].items, ['f']);
  transport.sent[5].answer({ ok: true, rejected: 0 });
  await flush;
  assert.deepEqual(drops, [{ reason: 'rejected', count: 1, status: 413, message: 'HTTP 413' }]);
  const stats = publisher.stats();
  assert.equal(stats.delivered, 5);
  assert.equal(stats.queued, 0);
  assert.equal(stats.queuedBytes, 0, 'the halves’ bytes add up to the batch’s');
  assert.equal(stats.retries, 0);
});
