// @inlet/node over HTTP against a real Inlet server (embedded SQLite sink).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { DEFAULT_LIMITS, type NormalizedRecord } from '@inlet/schema';
import { ServerAnalytics, type ServerAnalyticsOptions } from '@inlet/node';
import { recorder, startProxy, until, type Proxy } from './support/proxy.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Tags every test's events so tests sharing one server can tell theirs apart. */
function tagged(events: NormalizedRecord[], run: string): NormalizedRecord[] {
  return events.filter((e) => (e.properties as { run?: string } | undefined)?.run === run || (e.traits as { run?: string } | undefined)?.run === run);
}

describe('HTTP transport against a real Inlet server', () => {
  let inlet: TestInlet;
  let proxy: Proxy;
  const sdks: ServerAnalytics[] = [];
  const sdk = (options: Partial<ServerAnalyticsOptions> = {}) => {
    const a = new ServerAnalytics({ writeKey: inlet.writeKey, endpoint: proxy.url, minRetryDelayMs: 20, maxRetryDelayMs: 200, ...options });
    sdks.push(a);
    return a;
  };

  before(async () => {
    inlet = await startInlet();
    proxy = await startProxy(inlet.url);
  });
  after(async () => {
    await Promise.all(sdks.map((a) => a.shutdown({ timeoutMs: 1000 })));
    await proxy.close();
    await inlet.close();
  });

  test('every kind of event arrives with the right fields', async () => {
    const run = 'fields';
    const a = sdk({ app: { name: 'billing', version: '1.2.3' } });
    const seen = recorder(a);
    const at = new Date('2024-05-01T10:00:00.000Z');
    a.track('user-1', 'order_paid', { run, amount: 42, currency: 'EUR' });
    a.track(7, 'numeric_user', { run });
    a.trackSystem('nightly_job_done', { run, rows: 3 });
    a.identify('user-1', { run, plan: 'pro' });
    a.page('user-1', 'Pricing', { run, path: '/pricing' });
    a.group('user-1', 'org-9', { run, seats: 5 });
    a.track('user-1', 'with_options', { run }, { timestamp: at, messageId: 'fixed-id-1', context: { locale: 'fr' } });
    await a.flush();
    a.alias('user-1', 'anon-77');
    await a.flush();

    const all = await inlet.events();
    const mine = tagged(all, run);
    assert.equal(mine.length, 7);
    const alias = all.find((e) => e.type === 'alias' && e.previousId === 'anon-77');
    assert.ok(alias, 'alias stored');
    assert.equal(alias.userId, 'user-1');
    for (const e of [...mine, alias]) {
      assert.match(e.messageId, e.messageId === 'fixed-id-1' ? /fixed-id-1/ : UUID);
      assert.deepEqual(e.context.library, { name: '@inlet/node', version: '0.1.0' });
      assert.deepEqual(e.context.app, { name: 'billing', version: '1.2.3' });
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
      assert.equal(typeof e.sentAt, 'string', 'batch sentAt reaches the record');
    }
    const byEvent = (name: string) => mine.find((e) => e.event === name)!;
    assert.equal(byEvent('order_paid').type, 'track');
    assert.equal(byEvent('order_paid').userId, 'user-1');
    assert.deepEqual(byEvent('order_paid').properties, { run, amount: 42, currency: 'EUR' });
    assert.equal(byEvent('numeric_user').userId, '7');
    assert.equal(byEvent('nightly_job_done').anonymousId, 'system');
    assert.equal(byEvent('nightly_job_done').userId, undefined);
    const identify = mine.find((e) => e.type === 'identify')!;
    assert.deepEqual(identify.traits, { run, plan: 'pro' });
    const page = mine.find((e) => e.type === 'page')!;
    assert.equal(page.name, 'Pricing');
    assert.equal(page.event, 'page_viewed');
    const group = mine.find((e) => e.type === 'group')!;
    assert.equal(group.groupId, 'org-9');
    const withOptions = byEvent('with_options');
    assert.equal(withOptions.messageId, 'fixed-id-1');
    assert.equal(withOptions.originalTimestamp, at.toISOString());
    assert.equal(withOptions.context.locale, 'fr');

    const req = proxy.requests.at(-1)!;
    assert.equal(req.path, '/v1/batch');
    assert.equal(req.headers.authorization, `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}`);
    assert.deepEqual(seen.drops, []);
    assert.equal(a.stats().delivered, 8);
  });

  test('bodies are gzipped and batches respect maxBatchSize and the 500 KB body limit', async () => {
    const run = 'limits';
    const before = proxy.requests.length;
    const a = sdk({ maxBatchSize: 300, flushIntervalMs: 60_000 });
    for (let i = 0; i < 1000; i++) a.track(`u${i}`, 'small', { run, i });
    // 1.5 KB-ish each: 500 of them would be ~750 KB, over the server's body limit
    const filler = 'x'.repeat(1500);
    for (let i = 0; i < 500; i++) a.track(`u${i}`, 'big', { run, i, filler });
    await a.flush();
    const requests = proxy.requests.slice(before);
    assert.ok(requests.every((r) => r.events <= 300), 'no batch over maxBatchSize');
    assert.ok(requests.every((r) => r.bodyBytes <= 500 * 1024), 'no body over 500 KB');
    assert.ok(requests.some((r) => r.headers['content-encoding'] === 'gzip' && r.wireBytes < r.bodyBytes / 3), 'gzipped');
    assert.equal(requests.reduce((n, r) => n + r.events, 0), 1500);
    assert.equal(tagged(await inlet.events(), run).length, 1500);
    assert.equal(a.stats().dropped, 0);
  });

  test('an event over 32 KB is dropped at track() time and does not poison its batch', async () => {
    const run = 'too-large';
    const a = sdk();
    const seen = recorder(a);
    a.track('u1', 'ok_before', { run });
    a.track('u1', 'huge', { run, blob: 'y'.repeat(40 * 1024) });
    assert.deepEqual(seen.drops.map((d) => d.reason), ['too-large'], 'reported synchronously');
    a.track('u1', 'ok_after', { run });
    await a.flush();
    assert.deepEqual(tagged(await inlet.events(), run).map((e) => e.event).sort(), ['ok_after', 'ok_before']);
  });

  test('an event just under 32 KB as sent is delivered (the limit is on the event as sent, whatever the server adds); one just over is dropped at track() time', async () => {
    const run = 'edge-of-limit';
    const a = sdk();
    const seen = recorder(a);
    // ~32,500 bytes as the SDK serializes it (~32,750 as the server stores it); 32,256 was the SDK's bound before.
    a.track('u1', 'under', { run, blob: 'z'.repeat(32 * 1024 - 500) });
    a.track('u1', 'over', { run, blob: 'z'.repeat(32 * 1024) });
    assert.deepEqual(seen.drops.map((d) => d.reason), ['too-large']);
    await a.flush();
    assert.deepEqual(tagged(await inlet.events(), run).map((e) => e.event), ['under']);
    assert.equal(seen.drops.length, 1, 'nothing rejected by the server');
  });

  test('bad input is reported, never thrown', async () => {
    const a = sdk();
    const seen = recorder(a);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.doesNotThrow(() => {
      a.track(undefined, 'no_user');
      a.track('u1', '' as string);
      a.track('u1', 'bad_props', 'nope' as never);
      a.track('u1', 'circular', circular);
      a.track('u1', 'bigint', { n: 10n } as never);
      a.group('u1', '' as string);
    });
    assert.equal(seen.dropped('invalid'), 6);
    assert.equal(a.stats().droppedByReason.invalid, 6);
    assert.equal(a.stats().enqueued, 0);
  });

  test('events the server refuses one by one are reported; the rest of the batch is kept', async () => {
    const run = 'partial';
    const a = sdk();
    const seen = recorder(a);
    a.track('u1', 'good', { run });
    a.track('u1', 'poisoned', { run, nested: JSON.parse('{"__proto__": {"admin": true}}') });
    a.track('u1', 'good_too', { run });
    await a.flush();
    assert.deepEqual(tagged(await inlet.events(), run).map((e) => e.event).sort(), ['good', 'good_too']);
    assert.equal(seen.drops.length, 1);
    assert.equal(seen.drops[0].reason, 'rejected');
    assert.equal(seen.drops[0].count, 1);
    assert.match(seen.drops[0].message ?? '', /__proto__/);
    assert.equal(a.stats().delivered, 2);
  });

  test('a 400 is dropped and reported, not retried', async () => {
    const a = sdk({ maxRetries: 5 });
    const seen = recorder(a);
    const before = proxy.requests.length;
    proxy.queue.push({ kind: 'replace-body', body: '{"batch":"not-an-array"}' });
    a.track('u1', 'doomed', { run: 'bad-request' });
    a.track('u1', 'doomed', { run: 'bad-request' });
    await a.flush();
    assert.equal(proxy.requests.length - before, 1, 'sent exactly once');
    assert.deepEqual(seen.drops, [{ reason: 'rejected', count: 2, status: 400, message: seen.drops[0]?.message }]);
    assert.match(seen.drops[0].message ?? '', /^HTTP 400/);
    assert.equal(seen.errors.length, 1);
    assert.equal(a.stats().retries, 0);
    assert.equal(tagged(await inlet.events(), 'bad-request').length, 0);
  });

  test('a wrong write key (401) is dropped, not retried', async () => {
    const a = new ServerAnalytics({ writeKey: 'wk_not_a_real_key', endpoint: proxy.url, minRetryDelayMs: 20 });
    sdks.push(a);
    const seen = recorder(a);
    const before = proxy.requests.length;
    a.track('u1', 'unauthorized', { run: 'unauthorized' });
    await a.flush();
    assert.equal(proxy.requests.length - before, 1);
    assert.equal(seen.dropped('rejected'), 1);
    assert.equal(seen.drops[0].status, 401);
  });

  test('503s, refused connections and 429 with Retry-After are retried until delivered', async () => {
    const run = 'retry';
    const a = sdk({ maxRetries: 10 });
    const seen = recorder(a);
    const before = proxy.requests.length;
    proxy.queue.push(
      { kind: 'answer', status: 503, headers: { 'retry-after': '0' }, body: '{"error":"sink unavailable"}' },
      { kind: 'refuse' },
      { kind: 'answer', status: 429, headers: { 'retry-after': '1' }, body: '{"error":"rate limited"}' },
      { kind: 'answer', status: 408 },
    );
    for (let i = 0; i < 10; i++) a.track(`u${i}`, 'eventually', { run, i });
    await a.flush();
    assert.equal(proxy.requests.length - before, 5, 'four failures, then the delivery');
    assert.equal(tagged(await inlet.events(), run).length, 10);
    assert.equal(seen.drops.length, 0);
    assert.equal(seen.errors.length, 4);
    assert.equal(a.stats().retries, 4);
    // the same messageIds each time: the retry is the same batch, not new events
    const ids = proxy.requests.slice(before).map((r) => r.events);
    assert.deepEqual(ids, [10, 10, 10, 10, 10]);
  });

  test('retries run out: the batch is dropped as retries-exhausted', async () => {
    const a = sdk({ maxRetries: 2 });
    const seen = recorder(a);
    const before = proxy.requests.length;
    proxy.mode = { kind: 'answer', status: 500 };
    try {
      a.track('u1', 'lost', { run: 'exhausted' });
      await a.flush();
    } finally {
      proxy.mode = { kind: 'forward' };
    }
    assert.equal(proxy.requests.length - before, 3, 'first attempt plus two retries');
    assert.deepEqual(seen.drops.map((d) => [d.reason, d.count, d.status]), [['retries-exhausted', 1, 500]]);
  });

  test('a queue at its bound drops and reports rather than growing; what it held is delivered', async () => {
    const run = 'bounded';
    const a = sdk({ maxQueueSize: 100, maxBatchSize: 50, maxRetries: 1000 });
    const seen = recorder(a);
    proxy.mode = { kind: 'answer', status: 503 };
    try {
      for (let i = 0; i < 150; i++) a.track(`u${i}`, 'bounded', { run, i });
      assert.equal(a.stats().queued, 100);
      assert.equal(seen.dropped('queue-full'), 50);
      await until(() => a.stats().retries >= 2, 'a few failed attempts');
      a.track('u-late', 'bounded', { run, i: 999 });
      assert.equal(seen.dropped('queue-full'), 51, 'still full while the server is down');
    } finally {
      proxy.mode = { kind: 'forward' };
    }
    await a.flush();
    const stored = tagged(await inlet.events(), run);
    assert.equal(stored.length, 100);
    assert.deepEqual(stored.map((e) => (e.properties as { i: number }).i).sort((x, y) => x - y), [...Array(100).keys()], 'the first 100, in full');
    assert.equal(a.stats().queued, 0);
  });

  test('shutdown() delivers everything buffered before it resolves, then refuses new events', async () => {
    const run = 'shutdown';
    const a = sdk({ flushIntervalMs: 3_600_000 });
    const seen = recorder(a);
    for (let i = 0; i < 1234; i++) a.track(`u${i}`, 'buffered', { run, i });
    await a.shutdown();
    assert.equal(tagged(await inlet.events(), run).length, 1234);
    a.track('u1', 'after_shutdown', { run });
    assert.equal(seen.dropped('closed'), 1);
  });

  test('flush() waits only for what was tracked before it', async () => {
    const run = 'flush-scope';
    const a = sdk({ flushIntervalMs: 3_600_000 });
    a.track('u1', 'first', { run });
    const flushed = a.flush();
    a.track('u1', 'second', { run });
    await flushed;
    const names = tagged(await inlet.events(), run).map((e) => e.event);
    assert.ok(names.includes('first'));
    await a.flush();
    assert.deepEqual(tagged(await inlet.events(), run).map((e) => e.event).sort(), ['first', 'second']);
  });
});

describe('the server down for a while, then back on the same port and data', () => {
  let dataDir: string;
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('every event arrives', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'inlet-node-restart-'));
    let inlet = await startInlet({ dataDir });
    const port = inlet.server.port;
    const a = new ServerAnalytics({ writeKey: inlet.writeKey, endpoint: inlet.url, maxBatchSize: 20, flushIntervalMs: 20, minRetryDelayMs: 50, maxRetryDelayMs: 300, maxRetries: 100 });
    const seen = recorder(a);
    try {
      for (let i = 0; i < 50; i++) a.track(`u${i}`, 'before_outage', { i });
      await a.flush();
      await inlet.close();
      for (let i = 0; i < 120; i++) a.track(`u${i}`, 'during_outage', { i });
      await until(() => seen.errors.length >= 3, 'failed attempts while the server is down');
      inlet = await startInlet({ dataDir, port });
      await a.flush();
      const events = await inlet.events();
      assert.equal(events.filter((e) => e.event === 'before_outage').length, 50);
      assert.equal(events.filter((e) => e.event === 'during_outage').length, 120);
      assert.equal(new Set(events.map((e) => e.messageId)).size, 170);
      assert.equal(seen.drops.length, 0);
      assert.ok(seen.errors.every((e) => /network error/.test(e.message)), 'outage seen as network errors');
    } finally {
      await a.shutdown({ timeoutMs: 1000 });
      await inlet.close();
    }
  });
});

describe('requestTimeoutMs bounds the whole request, not just idleness', () => {
  test('a server that trickles a response and never ends it times out; the batch is retried', async () => {
    const requests: number[] = [];
    const trickles = new Set<NodeJS.Timeout>();
    // First request: headers, then a byte every 50 ms for ever (the socket is never idle).
    // Second: a real answer.
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests.push(Date.now());
        if (requests.length > 1) {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1,"rejected":0}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => res.write(' '), 50);
        trickles.add(timer);
        res.on('close', () => clearInterval(timer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = new ServerAnalytics({ writeKey: 'wk', endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requestTimeoutMs: 300, minRetryDelayMs: 20, maxRetryDelayMs: 50 });
    const seen = recorder(a);
    try {
      a.track('u1', 'slow_server');
      const started = Date.now();
      const outcome = await Promise.race([a.flush().then(() => 'flushed'), new Promise((r) => setTimeout(r, 5000, 'still waiting after 5 s')).then(String)]);
      assert.equal(outcome, 'flushed');
      assert.equal(requests.length, 2, 'retried once');
      assert.ok(Date.now() - started >= 300, 'the first attempt had its full time');
      assert.match(seen.errors[0]?.message ?? '', /no complete response within 300 ms/);
      assert.equal(a.stats().delivered, 1);
      assert.deepEqual(seen.drops, []);
    } finally {
      await a.shutdown({ timeoutMs: 200 });
      for (const timer of trickles) clearInterval(timer);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('a server whose body limit is below the SDK’s batch size', () => {
  test('batches refused with 413 are halved until they pass; every event arrives', async () => {
    const inlet = await startInlet({ limits: { ...DEFAULT_LIMITS, maxBodyBytes: 64 * 1024 } });
    const a = new ServerAnalytics({ writeKey: inlet.writeKey, endpoint: inlet.url, flushIntervalMs: 3_600_000 });
    const seen = recorder(a);
    try {
      const filler = 'x'.repeat(2000);
      for (let i = 0; i < 100; i++) a.track(`u${i}`, 'sized', { i, filler }); // ~210 KB: one batch for the SDK
      await a.flush();
      const stored = (await inlet.events()).filter((e) => e.event === 'sized');
      assert.equal(stored.length, 100);
      assert.deepEqual(seen.drops, []);
      assert.ok(seen.errors.some((e) => /HTTP 413/.test(e.message)), 'the server did refuse the whole batch');
      assert.equal(a.stats().delivered, 100);
    } finally {
      await a.shutdown({ timeoutMs: 1000 });
      await inlet.close();
    }
  });
});
