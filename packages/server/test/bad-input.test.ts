// Bad input, one test each. After every test the server still answers and what it accepted
// earlier is still stored.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { basic, postJson, request, type RawReply } from './http-client.ts';

let inlet: TestInlet;
const accepted: string[] = [];

/** A readable error body: `error` is a sentence, `code` a stable INLET_* code. */
function assertError(reply: RawReply, status: number, code?: string | RegExp): void {
  assert.equal(reply.status, status, reply.text);
  assert.equal(typeof reply.json?.error, 'string', `error message in ${reply.text}`);
  assert.ok(String(reply.json?.error).length > 5, 'a readable message');
  assert.match(String(reply.json?.code), /^INLET_[A-Z_]+$/);
  if (typeof code === 'string') assert.equal(reply.json?.code, code);
  else if (code) assert.match(String(reply.json?.code), code);
}

const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
  request(inlet.url, '/v1/batch', { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey), ...headers } });

const track = (extra: Record<string, unknown>) => postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e', ...extra }, inlet.writeKey);

before(async () => {
  inlet = await startInlet();
  const messageId = `before-${randomUUID()}`;
  assert.equal((await track({ messageId })).status, 200);
  accepted.push(messageId);
});

afterEach(async () => {
  // Still up: a good event goes in, and nothing accepted so far went missing.
  const messageId = `after-${randomUUID()}`;
  const reply = await track({ messageId });
  assert.equal(reply.status, 200, `server still accepts events: ${reply.text}`);
  accepted.push(messageId);
  const stored = new Set((await inlet.events()).map((r) => r.messageId));
  for (const id of accepted) assert.ok(stored.has(id), `${id} is still stored`);
});

after(async () => { await inlet.close(); });

describe('bad bodies', () => {
  test('malformed JSON → 400', async () => {
    assertError(await post('{"batch": [{"type": "track",'), 400, 'INLET_MALFORMED_JSON');
  });

  test('empty body → 400', async () => {
    assertError(await post(''), 400, 'INLET_INVALID_BODY');
    assertError(await request(inlet.url, '/v1/track', { headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } }), 400);
  });

  test('a body that is an array, a string or null → 400', async () => {
    for (const body of ['[{"type":"track","userId":"u","event":"e"}]', '"hello"', 'null', '42']) {
      assertError(await post(body), 400, 'INLET_INVALID_BODY');
      assertError(await request(inlet.url, '/v1/track', { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } }), 400);
    }
  });

  test('batch missing or not an array → 400', async () => {
    for (const body of [{}, { batch: {} }, { batch: 'x' }, { batch: null }, { events: [] }]) {
      const reply = await post(JSON.stringify(body));
      assertError(reply, 400, 'INLET_INVALID_BODY');
      assert.match(String(reply.json?.error), /batch/);
    }
  });

  test('1001 events → 413', async () => {
    const batch = Array.from({ length: 1001 }, () => ({ type: 'track', userId: 'u', event: 'e' }));
    const before = (await inlet.events()).length;
    assertError(await post(JSON.stringify({ batch })), 413, 'INLET_TOO_MANY_EVENTS');
    assert.equal((await inlet.events()).length, before, 'none of them stored');
  });

  test('a 600 KB body → 413 (declared length and chunked)', async () => {
    const body = JSON.stringify({ batch: Array.from({ length: 300 }, () => ({ type: 'track', userId: 'u', event: 'e', properties: { pad: 'x'.repeat(2000) } })) });
    assert.ok(body.length > 600_000);
    assertError(await post(body), 413, 'INLET_BODY_TOO_LARGE');
    // Without a Content-Length the limit is found while reading.
    assertError(await request(inlet.url, '/v1/batch', { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey), 'transfer-encoding': 'chunked' } }), 413, 'INLET_BODY_TOO_LARGE');
  });

  test('a 40 KB event inside a valid batch → that event rejected, the rest kept', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const reply = await post(JSON.stringify({ batch: [
      { type: 'track', userId: 'u', event: 'small', messageId: ids[0] },
      { type: 'track', userId: 'u', event: 'huge', messageId: ids[1], properties: { pad: 'x'.repeat(40 * 1024) } },
      { type: 'track', userId: 'u', event: 'small', messageId: ids[2] },
    ] }));
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json?.accepted, 2);
    const errors = reply.json?.errors as Array<{ index: number; errors: string[] }>;
    assert.deepEqual(errors.map((e) => e.index), [1]);
    assert.match(errors[0].errors[0], /bytes; the limit is 32768/);
    const stored = new Set((await inlet.events()).map((r) => r.messageId));
    assert.ok(stored.has(ids[0]) && stored.has(ids[2]) && !stored.has(ids[1]));
    accepted.push(ids[0], ids[2]);
  });

  test('the 32 KB limit is on the event as sent: one just under it is stored with what the server adds; one just over is refused', async () => {
    const sized = (bytes: number, messageId: string) => {
      const event = { type: 'page', userId: 'u', name: 'Docs', messageId, properties: { pad: '' } };
      event.properties.pad = 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(event)));
      assert.equal(Buffer.byteLength(JSON.stringify(event)), bytes);
      return event;
    };
    const [under, over] = [randomUUID(), randomUUID()];
    const reply = await post(JSON.stringify({ batch: [sized(32 * 1024 - 10, under), sized(32 * 1024 + 1, over)] }));
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json?.accepted, 1);
    assert.deepEqual(reply.json?.errors, [{ index: 1, errors: [`event is ${32 * 1024 + 1} bytes; the limit is 32768`] }]);
    const record = (await inlet.events()).find((r) => r.messageId === under);
    assert.ok(record, 'the event just under the limit is stored');
    assert.ok(Buffer.byteLength(JSON.stringify(record)) > 32 * 1024, 'its record is over 32 KB with the fields the server added');
    accepted.push(under);
  });

  test('a 40 KB event alone on /v1/track → 400', async () => {
    assertError(await track({ properties: { pad: 'é'.repeat(20 * 1024) } }), 400, 'INLET_INVALID_EVENT');
  });
});

describe('bad encodings and types', () => {
  test('invalid gzip → 400', async () => {
    assertError(await post(Buffer.from('this is not gzip at all'), { 'content-encoding': 'gzip' }), 400, 'INLET_INVALID_GZIP');
    const truncated = gzipSync(JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'e' }] })).subarray(0, 20);
    assertError(await post(truncated, { 'content-encoding': 'gzip' }), 400);
  });

  test('a gzip bomb (10 MB of zeros) → 413 without a memory spike', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, '0'), { level: 9 });
    assert.ok(bomb.length < 100_000);
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 3; i++) assertError(await post(bomb, { 'content-encoding': 'gzip' }), 413, 'INLET_BODY_TOO_LARGE');
    const grewMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    assert.ok(grewMb < 40, `RSS grew by ${grewMb.toFixed(1)} MB`);
  });

  test('unsupported Content-Encoding → 415', async () => {
    for (const encoding of ['br', 'deflate', 'compress']) assertError(await post('{"batch":[]}', { 'content-encoding': encoding }), 415, 'INLET_UNSUPPORTED_ENCODING');
  });

  test('what an answer quotes from the request is cut short: a 12 KB header or path is not sent back whole', async () => {
    const long = 'x'.repeat(12_000);
    const encoding = await post('{"batch":[]}', { 'content-encoding': long });
    assertError(encoding, 415, 'INLET_UNSUPPORTED_ENCODING');
    const path = await request(inlet.url, `/v1/${long}`, { method: 'GET' });
    assertError(path, 404, 'INLET_NOT_FOUND');
    for (const reply of [encoding, path]) assert.ok(reply.text.length < 400, `${reply.text.length} bytes: ${reply.text.slice(0, 120)}`);
  });

  test('a body that is not JSON → 400 naming the Content-Type, under any Content-Type', async () => {
    const cases: [string, Record<string, string>][] = [
      ['<batch/>', { 'content-type': 'application/xml' }],
      [`writeKey=${inlet.writeKey}&userId=u`, { 'content-type': 'application/x-www-form-urlencoded' }],
      ['--x\r\n', { 'content-type': 'multipart/form-data; boundary=x' }],
      ['\u0000\u0001binary', { 'content-type': 'application/octet-stream' }],
      ['not json', { 'content-type': '' }],
    ];
    for (const [body, headers] of cases) {
      const reply = await post(body, headers);
      assertError(reply, 400, 'INLET_MALFORMED_JSON');
      if (headers['content-type']) assert.match(String(reply.json?.error), new RegExp(`read as JSON whatever the Content-Type; it said ${headers['content-type'].split(';')[0]}`));
    }
    const gzipped = await post(gzipSync(`writeKey=${inlet.writeKey}`), { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' });
    assertError(gzipped, 400, 'INLET_MALFORMED_JSON');
  });
});

describe('bad events', () => {
  test('no userId and no anonymousId', async () => {
    const reply = await track({ userId: undefined });
    assertError(reply, 400, 'INLET_INVALID_EVENT');
    assert.match(String(reply.json?.error), /userId or anonymousId/);
  });

  test('event not a string', async () => {
    for (const event of [42, { name: 'x' }, null]) {
      const reply = await track({ event });
      assertError(reply, 400, 'INLET_INVALID_EVENT');
      assert.match(String(reply.json?.error), /event/);
    }
  });

  test('properties an array', async () => {
    const reply = await track({ properties: ['a', 'b'] });
    assertError(reply, 400, 'INLET_INVALID_EVENT');
    assert.match(String(reply.json?.error), /properties must be object/);
  });

  test('__proto__ and constructor keys: rejected, and no prototype pollution', async () => {
    const bodies = [
      `{"userId":"u","event":"e","__proto__":{"polluted":"yes"}}`,
      `{"userId":"u","event":"e","properties":{"__proto__":{"polluted":"yes"}}}`,
      `{"userId":"u","event":"e","properties":{"constructor":{"prototype":{"polluted":"yes"}}}}`,
      `{"__proto__":{"polluted":"yes"},"userId":"u","event":"e","context":{"__proto__":{"polluted":"yes"}}}`,
    ];
    for (const body of bodies) {
      assertError(await request(inlet.url, '/v1/track', { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } }), 400, 'INLET_INVALID_EVENT');
    }
    const batch = await post(`{"__proto__":{"polluted":"yes"},"batch":[{"type":"track","userId":"u","event":"e","traits":{"__proto__":{"polluted":"yes"}}}]}`);
    assert.equal(batch.status, 200);
    assert.equal(batch.json?.rejected, 1);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    // The same check inside the server process: a fresh object there has no such property either.
    assert.ok(!(await inlet.events()).some((r) => JSON.stringify(r).includes('polluted')));
  });

  test('nesting 10,000 levels deep', async () => {
    const body = `{"userId":"u","event":"e","properties":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    const reply = await request(inlet.url, '/v1/track', { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });
    assertError(reply, 400, 'INLET_INVALID_EVENT');
    assert.match(String(reply.json?.error), /nested deeper/);
    const arrays = `{"batch":[{"type":"track","userId":"u","event":"e","properties":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}]}`;
    const batch = await post(arrays);
    assert.equal(batch.status, 200);
    assert.equal(batch.json?.rejected, 1);
  });

  test('a messageId with an unpaired surrogate → 400; one that only looks like it is stored', async () => {
    // As UTF-8 (the store's key, Kafka's header) "\ud800" and "\udc00" both become U+FFFD: two
    // events would be one, and the second dropped as a repeat after its 200.
    for (const messageId of ['m1-\ud800', 'm1-\udc00']) {
      const reply = await track({ messageId });
      assertError(reply, 400, 'INLET_INVALID_EVENT');
      assert.match(String(reply.json?.error), /messageId .*unpaired/);
    }
    const fine = `m1-\ufffd-${randomUUID()}`;
    assert.equal((await track({ messageId: fine })).status, 200);
    const emoji = `m1-\u{1F600}-${randomUUID()}`;
    assert.equal((await track({ messageId: emoji })).status, 200, 'a surrogate pair is a character');
    accepted.push(fine, emoji);
  });

  test('a day past the end of its month → 400, not the next month', async () => {
    for (const timestamp of ['2025-02-30T00:00:00Z', '2025-02-29T12:00:00Z', '2025-04-31']) {
      const reply = await postJson(inlet.url, '/v1/import', { batch: [{ type: 'track', userId: 'u', event: 'e', timestamp }] }, inlet.writeKey);
      assert.equal(reply.json?.rejected, 1, `${timestamp}: ${reply.text}`);
      assert.match(JSON.stringify(reply.json?.errors), /timestamp is not a valid date-time/);
    }
    const leap = `leap-${randomUUID()}`;
    const reply = await postJson(inlet.url, '/v1/import', { batch: [{ type: 'track', userId: 'u', event: 'e', timestamp: '2024-02-29T12:00:00Z', messageId: leap }] }, inlet.writeKey);
    assert.equal(reply.json?.accepted, 1, reply.text);
    accepted.push(leap);
  });

  test('a timestamp that is not a date', async () => {
    for (const timestamp of ['not a date', 'foo 1', 12345]) {
      const reply = await track({ timestamp });
      assertError(reply, 400, 'INLET_INVALID_EVENT');
      assert.match(String(reply.json?.error), /timestamp/);
    }
  });
});

describe('bad auth and routing', () => {
  test('a malformed Basic header → 401', async () => {
    for (const authorization of ['Basic', 'Basic ', 'Bearer abc', `Basic ${Buffer.from(':').toString('base64')}`, 'Basic !!!!', 'garbage']) {
      assertError(await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, undefined, { authorization }), 401, /^INLET_(MALFORMED_AUTHORIZATION|INVALID_WRITE_KEY)$/);
    }
  });

  test("Segment's OAuth form, a Bearer token with the write key in the body, is taken by the body's key; without one it is a 401 that says what is expected", async () => {
    const messageId = randomUUID();
    const reply = await postJson(inlet.url, '/v1/track', { writeKey: inlet.writeKey, userId: 'u', event: 'oauth', messageId }, undefined, { authorization: 'Bearer eyJhbGciOi.segment-oauth.token' });
    assert.equal(reply.status, 200, reply.text);
    assert.ok((await inlet.events()).some((r) => r.messageId === messageId));
    accepted.push(messageId);
    const bare = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'oauth' }, undefined, { authorization: 'Bearer eyJhbGciOi.segment-oauth.token' });
    assertError(bare, 401, 'INLET_MALFORMED_AUTHORIZATION');
    assert.match(String(bare.json?.error), /or a writeKey in the body/);
  });

  test('a writeKey that is a number, an object or an array → 401', async () => {
    for (const writeKey of [12345, { key: inlet.writeKey }, [inlet.writeKey], true]) {
      assertError(await postJson(inlet.url, '/v1/track', { writeKey, userId: 'u', event: 'e' }), 401, 'INLET_INVALID_WRITE_KEY');
    }
  });

  test('unknown route → 404', async () => {
    assertError(await request(inlet.url, '/v1/nope', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), 404, 'INLET_NOT_FOUND');
    assertError(await request(inlet.url, '/', { method: 'GET' }), 404, 'INLET_NOT_FOUND');
  });

  test('wrong method → 405 with Allow', async () => {
    const reply = await request(inlet.url, '/v1/track', { method: 'GET' });
    assertError(reply, 405, 'INLET_METHOD_NOT_ALLOWED');
    assert.match(String(reply.headers.allow), /POST/);
    assertError(await request(inlet.url, '/v1/batch', { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } }), 405);
    assertError(await request(inlet.url, '/v1/ping', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }), 405);
  });

  test('what Node or the router refuses before any route (framing, huge headers, a bad %-escape) answers in the catalogue\'s shape', async () => {
    const raw = (text: string, base = inlet.url) => new Promise<string>((resolve, reject) => {
      const { hostname, port } = new URL(base);
      const socket = net.connect(Number(port), hostname, () => socket.end(text));
      let answer = '';
      socket.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    const body = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string; code: string };
    const cases: [string, string, string][] = [
      ['POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', '400', 'INLET_BAD_REQUEST'],
      [`GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, '431', 'INLET_HEADERS_TOO_LARGE'],
      [`POST /v1/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20_000)}\r\n{\r\n`, '413', 'INLET_BODY_TOO_LARGE'],
      ['GET /sourceConfig/%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', '400', 'INLET_BAD_REQUEST'],
    ];
    // The admin listener's routes have path parameters (the public port's have none).
    const admin: [string, string, string][] = [
      [`GET /api/sources/${'k'.repeat(300)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, '414', 'INLET_URI_TOO_LONG'],
      ['GET /api/sources/%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', '400', 'INLET_BAD_REQUEST'],
    ];
    for (const [text, status, code, base] of [...cases, ...admin.map(([t, st, c]) => [t, st, c, inlet.adminUrl])]) {
      const answer = await raw(text, base);
      assert.match(answer, new RegExp(`^HTTP/1.1 ${status} `), answer.slice(0, 200));
      const reply = body(answer);
      assert.equal(reply.code, code, answer.slice(0, 300));
      assert.ok(reply.error.length > 10, reply.error);
    }
  });
});
