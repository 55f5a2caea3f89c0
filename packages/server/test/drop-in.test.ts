// What the third-party SDKs need from the server, request by request, against a real listening
// Inlet: analytics.js's short routes, RudderStack's beacon route and sourceConfig, bodies under
// any Content-Type, preflights that ask for any headers, history imports, server sources that
// forward their users' addresses, and the Segment spec's timestamp precedence.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { EVENT_TYPES, type NormalizedRecord } from '@inlet/schema';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { MAX_ALLOWED_HEADERS } from '../src/cors.ts';
import { basic, postJson, request, type RawReply } from './http-client.ts';

const id = () => `m-${randomUUID()}`;
const HOUR = 3_600_000;

let inlet: TestInlet;
before(async () => { inlet = await startInlet(); });
after(async () => { await inlet.close(); });

async function stored(messageId: string): Promise<NormalizedRecord> {
  const found = (await inlet.events()).filter((r) => r.messageId === messageId);
  assert.equal(found.length, 1, `exactly one stored event with messageId ${messageId}`);
  return found[0];
}

const single = {
  track: { event: 'Signed Up', properties: { plan: 'pro' } },
  identify: { traits: { email: 'a@example.com' } },
  page: { name: 'Home' },
  screen: { name: 'Settings' },
  group: { groupId: 'g-1' },
  alias: { previousId: 'anon-1' },
};

describe("analytics.js's short routes", () => {
  for (const type of EVENT_TYPES) {
    test(`POST /v1/${type[0]} is /v1/${type}: the event is stored as ${type}`, async () => {
      const messageId = id();
      const reply = await request(inlet.url, `/v1/${type[0]}`, {
        headers: { 'content-type': 'text/plain', authorization: basic(inlet.writeKey) },
        body: JSON.stringify({ userId: 'u-1', messageId, ...single[type] }),
      });
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(reply.json, { accepted: 1, rejected: 0, errors: [] });
      const record = await stored(messageId);
      assert.equal(record.type, type);
      assert.equal(record.userId, 'u-1');
    });
  }

  test('POST /v1/b stores a batch (batching delivery), write key in the body', async () => {
    const items = EVENT_TYPES.map((type) => ({ type, messageId: id(), anonymousId: 'a-1', ...single[type] }));
    const reply = await request(inlet.url, '/v1/b', { headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ writeKey: inlet.writeKey, batch: items, sentAt: new Date().toISOString() }) });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json?.accepted, items.length);
    for (const item of items) assert.equal((await stored(item.messageId)).type, item.type);
  });

  test('a single-event short route refuses an event of another type', async () => {
    const reply = await postJson(inlet.url, '/v1/t', { type: 'identify', userId: 'u' }, inlet.writeKey);
    assert.equal(reply.status, 400);
    assert.match(String(reply.json?.error), /does not match/);
  });
});

describe("RudderStack's beacon route", () => {
  test('POST /beacon/v1/batch?writeKey=... (text/plain, no headers) stores the batch', async () => {
    const messageIds = [id(), id()];
    const reply = await request(inlet.url, `/beacon/v1/batch?writeKey=${encodeURIComponent(inlet.writeKey)}`, {
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ batch: messageIds.map((messageId) => ({ type: 'track', anonymousId: 'a', event: 'beaconed', messageId })), sentAt: new Date().toISOString() }),
    });
    assert.equal(reply.status, 200, reply.text);
    for (const messageId of messageIds) assert.equal((await stored(messageId)).event, 'beaconed');
  });

  test('without a key → 401; an unknown key → 401', async () => {
    const body = JSON.stringify({ batch: [{ type: 'track', anonymousId: 'a', event: 'e' }] });
    const none = await request(inlet.url, '/beacon/v1/batch', { headers: { 'content-type': 'text/plain' }, body });
    assert.equal(none.status, 401);
    assert.equal(none.json?.code, 'INLET_MISSING_WRITE_KEY');
    const unknown = await request(inlet.url, '/beacon/v1/batch?writeKey=wk_nope', { headers: { 'content-type': 'text/plain' }, body });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json?.code, 'INLET_INVALID_WRITE_KEY');
  });

  test('the URL is not a place for the key on other routes', async () => {
    const reply = await request(inlet.url, `/v1/batch?writeKey=${encodeURIComponent(inlet.writeKey)}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ batch: [{ type: 'track', anonymousId: 'a', event: 'e' }] }),
    });
    assert.equal(reply.status, 401);
    assert.equal(reply.json?.code, 'INLET_MISSING_WRITE_KEY');
  });
});

describe('bodies are JSON whatever the Content-Type says', () => {
  const cases: [label: string, headers: Record<string, string>, gzip: boolean][] = [
    ['form-urlencoded (rudder-sdk-node without gzip)', { 'content-type': 'application/x-www-form-urlencoded' }, false],
    ['form-urlencoded and gzip (rudder-sdk-node by default)', { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, true],
    ['octet-stream', { 'content-type': 'application/octet-stream' }, false],
    ['no Content-Type at all', {}, false],
    ['a Content-Type that does not parse', { 'content-type': 'json' }, false],
  ];
  for (const [label, headers, gzip] of cases) {
    test(label, async () => {
      const messageId = id();
      const json = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'labelled', messageId }] });
      const reply = await request(inlet.url, '/v1/batch', { headers: { ...headers, authorization: basic(inlet.writeKey) }, body: gzip ? gzipSync(json) : json });
      assert.equal(reply.status, 200, reply.text);
      assert.equal((await stored(messageId)).event, 'labelled');
    });
  }
});

describe('CORS preflight', () => {
  const preflight = (requestHeaders: string): Promise<RawReply> => request(inlet.url, '/v1/track', { method: 'OPTIONS', headers: {
    origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders,
  } });
  const allowed = (reply: RawReply) => String(reply.headers['access-control-allow-headers']).toLowerCase().split(', ');

  test("allows the headers the browser asks for (RudderStack's, analytics.js's retries), cached a day, varying by them", async () => {
    const reply = await preflight('anonymousid,authorization,content-type,sentat,rsa-retry-attempt,rsa-since-last-attempt,rsa-since-first-attempt,rsa-retry-reason,x-retry-count');
    assert.equal(reply.status, 204);
    assert.equal(reply.headers['access-control-allow-origin'], '*');
    for (const name of ['anonymousid', 'authorization', 'content-type', 'sentat', 'rsa-retry-attempt', 'rsa-since-last-attempt', 'rsa-since-first-attempt', 'rsa-retry-reason', 'x-retry-count']) {
      assert.ok(allowed(reply).includes(name), `${name} allowed`);
    }
    assert.equal(reply.headers['access-control-max-age'], '86400');
    assert.match(String(reply.headers.vary), /Access-Control-Request-Headers/);
  });

  test('names that are not header names are not echoed', async () => {
    const reply = await preflight('x-ok, bad name, <script>, , x-also-ok');
    assert.equal(reply.status, 204);
    assert.deepEqual(allowed(reply).slice(3), ['x-ok', 'x-also-ok']);
  });

  test('200 header names, or 10 KB of them: a bounded answer, and the server carries on', async () => {
    const many = Array.from({ length: 200 }, (_, i) => `x-h-${i}`).join(',');
    const long = Array.from({ length: 10 }, (_, i) => `x-${String(i).padStart(4, '0')}-${'a'.repeat(1010)}`).join(',');
    const commas = ','.repeat(10_000) + 'x-late';
    for (const requested of [many, long, commas]) {
      const reply = await preflight(requested);
      assert.equal(reply.status, 204);
      const header = String(reply.headers['access-control-allow-headers']);
      assert.ok(allowed(reply).length <= MAX_ALLOWED_HEADERS, `${allowed(reply).length} names`);
      assert.ok(header.length < 9000, `${header.length} bytes of allowed headers`);
    }
    assert.equal(allowed(await preflight(many)).length, MAX_ALLOWED_HEADERS);
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'after preflights' }, inlet.writeKey)).status, 200);
  });
});

describe("GET /sourceConfig (RudderStack's configUrl)", () => {
  test('answers for the write key (query or Basic auth, with or without the trailing slash) with what the SDK requires', async () => {
    const source = inlet.server.defaultSource!;
    const replies = [
      await request(inlet.url, `/sourceConfig/?p=npm&v=3.34.1&build=modern&writeKey=${encodeURIComponent(inlet.writeKey)}&lockIntegrationsVersion=true&lockPluginsVersion=true`, { method: 'GET' }),
      await request(inlet.url, '/sourceConfig', { method: 'GET', headers: { authorization: basic(inlet.writeKey) } }),
    ];
    for (const reply of replies) {
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.headers['cache-control'], 'no-store');
      assert.deepEqual(reply.json, {
        isHosted: false,
        source: {
          id: source.id,
          name: source.name,
          enabled: true,
          config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
          destinations: [],
        },
      });
      assert.ok(!reply.text.includes(inlet.writeKey), 'the write key is not echoed');
    }
  });

  test('an unknown key and a revoked key get the same answer; no key gets 401', async () => {
    const revoked = await inlet.server.sources.create({ name: `revoked-${randomUUID()}` });
    await inlet.server.sources.revoke(revoked.id);
    const ask = (key: string) => request(inlet.url, `/sourceConfig/?writeKey=${encodeURIComponent(key)}`, { method: 'GET' });
    const [unknown, gone] = [await ask('wk_nope'), await ask(revoked.writeKey)];
    for (const reply of [unknown, gone]) assert.equal(reply.status, 401);
    assert.equal(gone.text, unknown.text, 'the body does not tell revoked keys from unknown ones');
    const headersOf = (reply: RawReply) => Object.keys(reply.headers).filter((h) => h !== 'date').sort();
    assert.deepEqual(headersOf(gone), headersOf(unknown));
    const huge = await ask(`wk_${'x'.repeat(10_000)}`);
    assert.equal(huge.status, 401);
    assert.equal(huge.text, unknown.text, 'a 10 KB key is just another unknown key');
    const none = await request(inlet.url, '/sourceConfig/', { method: 'GET' });
    assert.equal(none.status, 401);
    assert.equal(none.json?.code, 'INLET_MISSING_WRITE_KEY');
  });
});

describe('timestamps', () => {
  test('/v1/import keeps the client timestamp as given, however old; live routes from a device bound it to 24 h', async () => {
    const old = new Date(Date.now() - 2 * 365 * 24 * HOUR).toISOString();
    const future = new Date(Date.now() + 48 * HOUR).toISOString();
    const [imported, importedFuture, live] = [id(), id(), id()];
    const sentAt = new Date().toISOString();
    assert.equal((await postJson(inlet.url, '/v1/import', { sentAt, batch: [
      { type: 'track', userId: 'u', event: 'history', messageId: imported, timestamp: old },
      { type: 'track', userId: 'u', event: 'history', messageId: importedFuture, timestamp: future },
    ] }, inlet.writeKey)).status, 200);
    assert.equal((await postJson(inlet.url, '/v1/batch', { sentAt, batch: [{ type: 'track', userId: 'u', event: 'late', messageId: live, timestamp: old }] }, inlet.writeKey)).status, 200);

    const history = await stored(imported);
    assert.equal(history.originalTimestamp, old);
    assert.equal(history.timestamp, old, 'as given: a replayed sentAt is as old as its events');
    assert.equal((await stored(importedFuture)).timestamp, future);
    const late = await stored(live);
    assert.equal(late.timestamp, late.receivedAt, 'a live route makes a 2-year-old time server time');
    assert.equal(late.originalTimestamp, old, 'what the client said is kept as originalTimestamp');
  });

  test("a server source's timestamp is taken as given on every route, however old, as Segment documents for history", async () => {
    const backend = await inlet.server.sources.create({ name: `backend-time-${randomUUID()}`, kind: 'server' });
    const threeDaysAgo = new Date(Date.now() - 72 * HOUR).toISOString();
    // A replayed payload: its sentAt as old as its event, which a device's correction would turn into now.
    const replayedSentAt = new Date(Date.parse(threeDaysAgo) + 500).toISOString();
    const [backfill, replayed] = [id(), id()];
    assert.equal((await postJson(inlet.url, '/v1/batch', { sentAt: new Date().toISOString(), batch: [
      { type: 'track', userId: 'u', event: 'backfill', messageId: backfill, timestamp: threeDaysAgo },
      { type: 'track', userId: 'u', event: 'replayed', messageId: replayed, timestamp: threeDaysAgo, sentAt: replayedSentAt },
    ] }, backend.writeKey)).status, 200);
    assert.equal((await stored(backfill)).timestamp, threeDaysAgo);
    assert.equal((await stored(replayed)).timestamp, threeDaysAgo);
  });

  test('timestamp and originalTimestamp disagree: the timestamp the caller set wins (Segment spec)', async () => {
    const callTime = new Date(Date.now() - 1000).toISOString();
    const happened = new Date(Date.now() - 2 * HOUR).toISOString();
    const messageId = id();
    const sentAt = new Date().toISOString();
    assert.equal((await postJson(inlet.url, '/v1/batch', { sentAt, batch: [{ type: 'track', userId: 'u', event: 'e', messageId, originalTimestamp: callTime, timestamp: happened, sentAt }] }, inlet.writeKey)).status, 200);
    const record = await stored(messageId);
    assert.equal(record.originalTimestamp, happened);
    assert.ok(Math.abs(Date.parse(record.timestamp) - Date.parse(happened)) < 60_000, `${record.timestamp} near ${happened}`);
  });
});

describe('context.ip by source kind', () => {
  const send = async (writeKey: string, context: Record<string, unknown>) => {
    const messageId = id();
    const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e', messageId, context }, writeKey);
    assert.equal(reply.status, 200, reply.text);
    return (await stored(messageId)).context.ip;
  };

  test("a server source keeps the address its back end forwards, and has none without it (its connection is the back end's); its IP policy still applies", async () => {
    const server = await inlet.server.sources.create({ name: `backend-${randomUUID()}`, kind: 'server' });
    const anonymized = await inlet.server.sources.create({ name: `backend-anon-${randomUUID()}`, kind: 'server', ipPolicy: 'anonymize' });
    assert.equal(await send(server.writeKey, { ip: '203.0.113.7' }), '203.0.113.7');
    assert.equal(await send(server.writeKey, { ip: '2001:db8::5' }), '2001:db8::5');
    assert.equal(await send(anonymized.writeKey, { ip: '203.0.113.7' }), '203.0.113.0');
    assert.equal(await send(server.writeKey, {}), undefined, 'no claim: no address (Segment fills it in for client-side events only)');
    assert.equal(await send(server.writeKey, { ip: 'not-an-ip' }), undefined, 'a claim that is no address: none');
  });

  test('a browser source (the default) never keeps the claim', async () => {
    assert.equal(inlet.server.defaultSource!.kind, 'browser');
    assert.equal(await send(inlet.writeKey, { ip: '203.0.113.7' }), '127.0.0.1');
  });
});
