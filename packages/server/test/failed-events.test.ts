// Every event from a known source that is not stored is kept in the failed-events store with its
// reason, the errors the client got, and what it sent; requests without a valid key are only counted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { FailedView } from '../src/failed/failed-store.ts';
import { adminRequest, basic, postJson, request } from './http-client.ts';

let inlet: TestInlet;
let sourceId: string;

before(async () => {
  inlet = await startInlet();
  sourceId = inlet.server.defaultSource!.id;
});
after(() => inlet.close());

async function failed(query = ''): Promise<FailedView[]> {
  const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed?limit=1000${query}`);
  assert.equal(reply.status, 200, reply.text);
  return (reply.json as { failed: FailedView[] }).failed;
}

/** The failed entries added by `action`, oldest first. */
async function keptBy(action: () => Promise<unknown>): Promise<FailedView[]> {
  const before = new Set((await failed('&status=all')).map((f) => f.id));
  await action();
  return (await failed('&status=all')).filter((f) => !before.has(f.id)).reverse();
}

const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  request(inlet.url, path, { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey), ...headers } });

async function metricsText(): Promise<string> {
  return (await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics')).text;
}

describe('events of a batch', () => {
  test('an invalid event is kept with reason "invalid", the errors the client got, its index and the event as sent', async () => {
    const bad = { type: 'track', userId: 'u-1', properties: { plan: 'pro' }, messageId: `m-${randomUUID()}` };
    let reply: Awaited<ReturnType<typeof postJson>> | undefined;
    const [entry, ...more] = await keptBy(async () => {
      reply = await postJson(inlet.url, '/v1/batch', { sentAt: new Date().toISOString(), batch: [{ type: 'track', userId: 'u', event: 'ok' }, bad] }, inlet.writeKey);
    });
    assert.equal(reply!.status, 200);
    assert.deepEqual(more, []);
    assert.equal(entry.reason, 'invalid');
    assert.equal(entry.sourceId, sourceId);
    assert.equal(entry.kind, 'event');
    assert.equal(entry.route, '/v1/batch');
    assert.equal(entry.index, 1);
    assert.deepEqual(entry.errors, (reply!.json!.errors as { errors: string[] }[])[0].errors);
    assert.deepEqual(entry.event, bad);
    assert.equal(entry.messageId, bad.messageId);
    assert.equal(entry.context.ip, '127.0.0.1');
    assert.ok(entry.context.sentAt);
    assert.equal(entry.status, 'failed');
    assert.ok(Math.abs(Date.parse(entry.receivedAt) - Date.now()) < 60_000);
  });

  test('an invalid event without a messageId is given one, which a replay will store it under', async () => {
    const [entry] = await keptBy(() => postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track', userId: 'u' }] }, inlet.writeKey));
    assert.match(entry.messageId!, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    assert.deepEqual(entry.event, { type: 'track', userId: 'u' });
  });

  test('an event over the size limit is kept whole with reason "too_large"', async () => {
    const huge = { type: 'track', userId: 'u', event: 'huge', properties: { pad: 'x'.repeat(40 * 1024) } };
    const [entry] = await keptBy(() => postJson(inlet.url, '/v1/batch', { batch: [huge] }, inlet.writeKey));
    assert.equal(entry.reason, 'too_large');
    assert.match(entry.errors[0], /bytes; the limit is 32768/);
    assert.deepEqual(entry.event, huge);
  });

  test('a failed event that is itself 500 KB is kept and read back whole', async () => {
    const pad = 'é'.repeat(240 * 1024); // ~480 KB in UTF-8
    const huge = { type: 'track', userId: 'u', event: 'huge', properties: { pad } };
    const [entry] = await keptBy(async () => {
      const reply = await postJson(inlet.url, '/v1/batch', { batch: [huge] }, inlet.writeKey);
      assert.equal(reply.status, 200, reply.text);
    });
    assert.equal(entry.reason, 'too_large');
    const shown = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed/${entry.id}`);
    assert.equal(shown.status, 200);
    assert.equal(((shown.json as unknown as FailedView).event as typeof huge).properties.pad, pad);
  });

  test('1000 invalid events in one batch are 1000 failed events, each with its index', async () => {
    const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'track', userId: `u-${i}` }));
    let reply: Awaited<ReturnType<typeof postJson>> | undefined;
    const entries = await keptBy(async () => { reply = await postJson(inlet.url, '/v1/batch', { batch }, inlet.writeKey); });
    assert.equal(reply!.status, 200);
    assert.deepEqual([reply!.json!.accepted, reply!.json!.rejected], [0, 1000]);
    assert.equal(entries.length, 1000);
    assert.deepEqual(entries.map((e) => e.index).sort((a, b) => a! - b!), batch.map((_, i) => i));
    assert.ok(entries.every((e) => e.reason === 'invalid' && (e.event as { userId: string }).userId === `u-${e.index}`));
  });

  test('an invalid event on a single-event route is kept before the 400, without the write key it carried', async () => {
    let status = 0;
    const [entry] = await keptBy(async () => {
      status = (await postJson(inlet.url, '/v1/track', { writeKey: inlet.writeKey, userId: 'u', properties: { a: 1 } })).status;
    });
    assert.equal(status, 400);
    assert.equal(entry.route, '/v1/track');
    assert.equal(entry.index, undefined);
    assert.equal(entry.context.type, 'track');
    assert.deepEqual(entry.event, { userId: 'u', properties: { a: 1 } });
    assert.ok(!JSON.stringify(entry).includes(inlet.writeKey), 'the write key is not kept');
  });
});

describe('whole bodies', () => {
  test('a body that is not JSON is kept as one failed event with its bytes, reason "malformed_body"', async () => {
    const body = `{"batch":[{"type":"track","userId":"u","event":"e"}`;
    const [entry, ...more] = await keptBy(async () => assert.equal((await post('/v1/batch', body)).status, 400));
    assert.deepEqual(more, []);
    assert.equal(entry.reason, 'malformed_body');
    assert.equal(entry.kind, 'body');
    assert.match(entry.errors[0], /Malformed JSON/);
    assert.deepEqual(entry.raw, { encoding: 'utf8', data: body, bytes: body.length, truncated: false });
  });

  test('bytes that are not UTF-8 are kept as base64', async () => {
    const body = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x80]);
    const [entry] = await keptBy(() => post('/v1/batch', body));
    assert.equal(entry.raw?.encoding, 'base64');
    assert.deepEqual(Buffer.from(entry.raw!.data, 'base64'), body);
  });

  test('a body in another encoding than UTF-8 is refused, not stored changed, and kept as sent', async () => {
    const body = Buffer.from('{"userId":"u","event":"caf\u00e9","messageId":"latin1-1"}', 'latin1');
    let reply: Awaited<ReturnType<typeof post>> | undefined;
    const [entry] = await keptBy(async () => { reply = await post('/v1/track', body, { 'content-type': 'application/json; charset=iso-8859-1' }); });
    assert.equal(reply!.status, 400, reply!.text);
    assert.equal(reply!.json?.code, 'INLET_MALFORMED_JSON');
    assert.match(String(reply!.json?.error), /not UTF-8 \(it said charset=iso-8859-1\)/);
    assert.equal(entry.reason, 'malformed_body');
    assert.deepEqual(Buffer.from(entry.raw!.data, 'base64'), body, 'the bytes as sent');
    const utf8 = await post('/v1/track', Buffer.from('{"userId":"u","event":"caf\u00e9 \ufffd","messageId":"utf8-1"}'));
    assert.equal(utf8.status, 200, 'UTF-8, a U+FFFD of its own included, goes in');
  });

  test('write keys in the events of a body refused whole are not kept', async () => {
    const batch = Array.from({ length: 1001 }, (_, i) => ({ type: 'track', userId: 'u', event: 'e', writeKey: inlet.writeKey, messageId: `wk-${i}` }));
    let status = 0;
    const [entry] = await keptBy(async () => { status = (await post('/v1/batch', JSON.stringify({ writeKey: inlet.writeKey, batch }), { 'content-type': 'text/plain' })).status; });
    assert.equal(status, 413);
    assert.equal(entry.kind, 'body');
    assert.equal((entry.event as { batch: unknown[] }).batch.length, 1001, 'the events are kept');
    assert.ok(!JSON.stringify(entry).includes(inlet.writeKey), 'without a key');
    const [shaped] = await keptBy(() => post('/v1/batch', JSON.stringify({ batch: { type: 'track', writeKey: inlet.writeKey } })));
    assert.ok(!JSON.stringify(shaped).includes(inlet.writeKey), 'a batch that is one object: without its key too');
  });

  test('a write key in a refused body is masked', async () => {
    const body = `{"writeKey":"${inlet.writeKey}","batch":[`;
    const [entry] = await keptBy(() => post('/v1/batch', body));
    assert.ok(!entry.raw!.data.includes(inlet.writeKey));
    assert.match(entry.raw!.data, /\[write key\]/);
  });

  test('a body of the wrong shape is kept as JSON, reason "malformed_body"', async () => {
    for (const body of [{ batch: 'x' }, { events: [] }, [{ type: 'track' }], 'hello']) {
      const [entry] = await keptBy(async () => assert.equal((await post('/v1/batch', JSON.stringify(body))).status, 400));
      assert.equal(entry.reason, 'malformed_body', JSON.stringify(body));
      assert.deepEqual(entry.event, body);
    }
  });

  test('an empty body and invalid gzip are kept, reason "malformed_body"', async () => {
    const [empty] = await keptBy(() => post('/v1/batch', ''));
    assert.equal(empty.reason, 'malformed_body');
    const notGzip = Buffer.from('this is not gzip');
    const [gzip] = await keptBy(() => post('/v1/batch', notGzip, { 'content-encoding': 'gzip' }));
    assert.equal(gzip.reason, 'malformed_body');
    assert.match(gzip.errors[0], /gzip/);
    assert.deepEqual(Buffer.from(gzip.raw!.data, gzip.raw!.encoding), notGzip);
  });

  test('an unsupported encoding or content type is kept (without a body) so the team sees it', async () => {
    const [encoding] = await keptBy(() => post('/v1/batch', '{"batch":[]}', { 'content-encoding': 'br' }));
    assert.equal(encoding.reason, 'malformed_body');
    assert.match(encoding.errors[0], /Content-Encoding/);
    const [type] = await keptBy(() => post('/v1/batch', '<batch/>', { 'content-type': 'application/xml' }));
    assert.equal(type.reason, 'malformed_body');
  });

  test('a body over 500 KB keeps its first 500 KB, reason "too_large" (declared length: nothing read)', async () => {
    const body = JSON.stringify({ batch: Array.from({ length: 300 }, () => ({ type: 'track', userId: 'u', event: 'e', properties: { pad: 'x'.repeat(2000) } })) });
    const [chunked] = await keptBy(() => post('/v1/batch', body, { 'transfer-encoding': 'chunked' }));
    assert.equal(chunked.reason, 'too_large');
    assert.deepEqual([chunked.raw?.bytes, chunked.raw?.truncated], [512_000, true]);
    assert.equal(chunked.raw!.data, body.slice(0, 512_000));
    const [declared] = await keptBy(() => post('/v1/batch', body));
    assert.equal(declared.reason, 'too_large');
    assert.equal(declared.raw, undefined);
    assert.match(declared.errors[0], /is \d+ bytes; the limit is 512000/);
  });

  test('more than 1000 events in one batch are kept as one body, reason "too_large"', async () => {
    const batch = Array.from({ length: 1001 }, () => ({ type: 'track', userId: 'u', event: 'e' }));
    const [entry, ...more] = await keptBy(async () => assert.equal((await post('/v1/batch', JSON.stringify({ batch }))).status, 413));
    assert.deepEqual(more, []);
    assert.equal(entry.reason, 'too_large');
    assert.equal((entry.event as { batch: unknown[] }).batch.length, 1001);
  });
});

describe('requests without a valid write key', () => {
  test('are not kept, only counted', async () => {
    const before = await metricsText();
    const count = (text: string, reason: string) => Number(new RegExp(`^inlet_unattributed_rejections_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const entries = await keptBy(async () => {
      await postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track', userId: 'u' }] }, 'wk_not_a_key');
      await request(inlet.url, '/v1/batch', { body: '{"batch":[', headers: { 'content-type': 'application/json' } });
      await postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track' }] });
    });
    assert.deepEqual(entries, []);
    const after = await metricsText();
    assert.equal(count(after, 'unauthenticated') - count(before, 'unauthenticated'), 2);
    assert.equal(count(after, 'malformed_body') - count(before, 'malformed_body'), 1);
  });
});

describe('reading failed events', () => {
  test('list filters by source, reason and time, pages newest first, and show returns one', async () => {
    const other = await inlet.server.sources.create({ name: `other-${randomUUID()}` });
    await postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track', userId: 'other' }] }, other.writeKey);
    const mine = await failed(`&source=${other.id}`);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].sourceId, other.id);
    const exactlyFull = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed?limit=1&source=${other.id}`);
    assert.equal((exactlyFull.json as { next: string | null }).next, null, 'a page exactly full, with nothing after it, has no next');
    assert.ok((await failed('&reason=too_large')).every((f) => f.reason === 'too_large'));
    assert.deepEqual(await failed(`&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), []);

    const all = await failed();
    const page1 = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed?limit=2');
    const { failed: first, next } = page1.json as { failed: FailedView[]; next: string };
    assert.deepEqual(first.map((f) => f.id), all.slice(0, 2).map((f) => f.id));
    assert.ok(first[0].id > first[1].id, 'newest first');
    const page2 = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed?limit=2&before=${next}`);
    assert.deepEqual((page2.json as { failed: FailedView[] }).failed.map((f) => f.id), all.slice(2, 4).map((f) => f.id));

    const shown = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed/${mine[0].id}`);
    assert.deepEqual(shown.json, mine[0] as unknown as Record<string, unknown>);
    const missing = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed/no-such-id');
    assert.equal(missing.status, 404);
    assert.equal(missing.json?.code, 'INLET_FAILED_EVENT_NOT_FOUND');
  });

  test('wrong query values get 400 naming them', async () => {
    const queries = [['limit=0', 'limit'], ['since=yesterday', 'since'], ['status=gone', 'status'], ['before=abc', 'before'], ['before=1e400', 'before'], ['since=300000000d', 'since'], ['until=2020-02-30', 'until']];
    for (const [query, name] of queries) {
      const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed?${query}`);
      assert.equal(reply.status, 400, query);
      assert.equal(reply.json?.code, 'INLET_INVALID_PARAMETER');
      assert.match(String(reply.json?.error), new RegExp(name));
    }
  });

  test('the reason codes are listed with what each means', async () => {
    const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed/reasons');
    assert.deepEqual(Object.keys(reply.json!.reasons as object), ['invalid', 'too_large', 'malformed_body', 'plan_violation']);
  });
});

test('a gzip body is kept decompressed when its JSON is malformed', async () => {
  const [entry] = await keptBy(() => post('/v1/batch', gzipSync('{"batch":[1,'), { 'content-encoding': 'gzip' }));
  assert.equal(entry.reason, 'malformed_body');
  assert.equal(entry.raw?.data, '{"batch":[1,');
});

test('a body of control characters is kept as base64, so an entry never grows past its body by more than a third', async () => {
  const body = Buffer.alloc(100_000, 0x01);
  const [entry] = await keptBy(() => post('/v1/batch', body));
  assert.equal(entry.raw?.encoding, 'base64');
  assert.deepEqual(Buffer.from(entry.raw!.data, 'base64'), body);
});

test('a write key in a refused body is masked when the body is kept as base64 too', async () => {
  const body = Buffer.concat([Buffer.from(`{"writeKey":"${inlet.writeKey}"`), Buffer.from([0xff, 0xfe])]);
  const [entry] = await keptBy(() => post('/v1/batch', body));
  assert.equal(entry.raw?.encoding, 'base64');
  const kept = Buffer.from(entry.raw!.data, 'base64').toString('latin1');
  assert.ok(!kept.includes(inlet.writeKey) && kept.includes('[write key]'));
});

test('a refused beacon body is kept for the source whose key is in its URL', async () => {
  const [entry] = await keptBy(() => request(inlet.url, `/beacon/v1/batch?writeKey=${inlet.writeKey}`, { body: '{"batch":[', headers: { 'content-type': 'text/plain' } }));
  assert.equal(entry.reason, 'malformed_body');
  assert.equal(entry.route, '/beacon/v1/batch');
  assert.equal(entry.sourceId, sourceId);
});
