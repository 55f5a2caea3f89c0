// Refusals for a main thread that is behind: while bodies wait long for it to parse them, the
// requests that keep arriving are the excess of an overload, and a batch of a source holding its
// share of what is pending gets 503 before its body is read; single events and other sources are
// still taken. A body read but left waiting past its bound is refused rather than parsed, on a
// connection that stays open.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { newMessageId } from '@inlet/schema';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { GatedSink } from './gated-sink.ts';
import { adminRequest, basic, postJson, request } from './http-client.ts';

/** ~20 KB of events: a batch, which a main thread behind may refuse. */
const bigBatch = () => ({ batch: Array.from({ length: 40 }, (_, i) => ({ type: 'track', event: 'Viewed', userId: `u-${i}`, messageId: newMessageId(), properties: { pad: 'x'.repeat(400) } })) });

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  assert.ok(condition(), what);
}

describe('refusals while bodies wait for the main thread, over HTTP', () => {
  let inlet: TestInlet;
  let sink: GatedSink;
  let dataDir: string;
  const counted = { arrived: 0, taken: 0 };
  const bodyWait = { waitMs: 0, outpaced: true, arrived: () => { counted.arrived++; }, taken: () => { counted.taken++; } };
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'inlet-body-wait-'));
    sink = new GatedSink(dataDir);
    inlet = await startInlet({ dataDir, sinkMaxQueueMs: 10_000 }, { sink, bodyWait });
  });
  after(async () => {
    sink.release();
    await inlet.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('while bodies wait long for the main thread, a large batch of the source holding what waits gets 503 unread (gzip counted as sent); its single events, another source and a main thread that keeps up are taken', async () => {
    const other = await inlet.server.sources.create({ name: 'other source' });
    sink.open = false;
    const held = [postJson(inlet.url, '/v1/batch', bigBatch(), inlet.writeKey)];
    await until(() => sink.waiting === 1, 'a batch of the default source waits for the sink');

    bodyWait.waitMs = 150;
    // Taken, it would wait for the closed sink: give up after 5 s.
    const refused = await Promise.race([
      postJson(inlet.url, '/v1/batch', bigBatch(), inlet.writeKey),
      sleep(5000, undefined, { ref: false }).then(() => assert.fail('the batch was taken (it waits for the sink) instead of being refused')),
    ]);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.json?.code, 'INLET_OVERLOADED');
    // Not JSON at all: still 503, not 400, so the body was never parsed.
    const unread = await request(inlet.url, '/v1/batch', { body: `{"batch": [${' '.repeat(20_000)}`, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });
    assert.equal(unread.status, 503, unread.text);

    // gzip: a batch in a quarter of the bytes is refused too.
    // (random padding, so it does not shrink to nothing)
    const zipped = gzipSync(JSON.stringify({ batch: bigBatch().batch.map((e) => ({ ...e, properties: { pad: randomBytes(150).toString('hex') } })) }));
    assert.ok(zipped.length >= 4096 && zipped.length < 16 * 1024, `${zipped.length} bytes gzipped`);
    const refusedZipped = await request(inlet.url, '/v1/batch', { body: zipped, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: basic(inlet.writeKey) } });
    assert.equal(refusedZipped.status, 503, refusedZipped.text);

    // A single event costs about twice its refusal: it is taken, however large.
    held.push(postJson(inlet.url, '/v1/track', { userId: 'u', event: 'Clicked', properties: { pad: 'x'.repeat(20_000) } }, inlet.writeKey));
    await until(() => sink.waiting === 2, 'the single event was taken');
    // A source with nothing waiting is not the excess.
    held.push(postJson(inlet.url, '/v1/batch', bigBatch(), other.writeKey));
    await until(() => sink.waiting === 3, "the other source's batch was taken");

    bodyWait.waitMs = 0;
    held.push(postJson(inlet.url, '/v1/batch', bigBatch(), inlet.writeKey));
    await until(() => sink.waiting === 4, 'a batch while the main thread keeps up was taken');

    // A long wait while no more arrive than the thread takes (a closed loop of clients at the
    // server's peak, each sending its next batch when answered) refuses nothing.
    bodyWait.waitMs = 150;
    bodyWait.outpaced = false;
    held.push(postJson(inlet.url, '/v1/batch', bigBatch(), inlet.writeKey));
    await until(() => sink.waiting === 5, 'a batch while bodies arrive no faster than they are taken was taken');
    bodyWait.waitMs = 0;
    bodyWait.outpaced = true;

    sink.release();
    for (const reply of await Promise.all(held)) assert.equal(reply.status, 200, reply.text);
    assert.equal((await inlet.events()).length, 40 + 1 + 40 + 40 + 40);
    const metrics = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics')).text;
    assert.match(metrics, /inlet_overload_refusals_total\{bound="loop"\} 3/);
    // Large batches with a header key, refused or not, arrived (seven); four were taken.
    // The single event is not a large batch.
    assert.deepEqual(counted, { arrived: 7, taken: 4 });
  });
});

describe('a body that waited too long for the main thread, over HTTP', () => {
  let inlet: TestInlet;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'inlet-late-body-'));
    // No wait is short enough: every body read is late.
    inlet = await startInlet({ dataDir }, { maxParseWaitMs: -1 });
  });
  after(async () => {
    await inlet.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('gets 503 with Retry-After unparsed (malformed JSON too), its events are not stored, the connection stays open, and it is counted as late', async () => {
    // (the helper opens a connection per request, so it asks for keep-alive itself)
    const batch = await postJson(inlet.url, '/v1/batch', bigBatch(), inlet.writeKey, { connection: 'keep-alive' });
    assert.equal(batch.status, 503, batch.text);
    assert.equal(batch.json?.code, 'INLET_OVERLOADED');
    assert.equal(batch.headers['retry-after'], '1');
    // A parser's error would have closed it (Fastify does after any): the client would reconnect for every refusal.
    assert.equal(batch.headers.connection, 'keep-alive');
    const single = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'Clicked' }, inlet.writeKey);
    assert.equal(single.status, 503, single.text);
    const unread = await request(inlet.url, '/v1/batch', { body: '{"batch": [', headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });
    assert.equal(unread.status, 503, 'not parsed, so not a 400 for its JSON');
    assert.equal((await inlet.events()).length, 0);
    const failed = await inlet.server.failed.list({}, 10);
    assert.equal(failed.failed.length, 0, 'a refusal to retry is not a failed event');
    const metrics = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics')).text;
    assert.match(metrics, /inlet_overload_refusals_total\{bound="late"\} 3/);
  });
});
