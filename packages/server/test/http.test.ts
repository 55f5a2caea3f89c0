// The HTTP API of DESIGN.md against a real listening server with its embedded SQLite store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { EVENT_TYPES, type NormalizedRecord } from '@inlet/schema';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { basic, postJson, request } from './http-client.ts';

const id = () => `m-${randomUUID()}`;

async function storedById(inlet: TestInlet): Promise<Map<string, NormalizedRecord[]>> {
  const byId = new Map<string, NormalizedRecord[]>();
  for (const record of await inlet.events()) byId.set(record.messageId, [...(byId.get(record.messageId) ?? []), record]);
  return byId;
}

async function storedOne(inlet: TestInlet, messageId: string): Promise<NormalizedRecord> {
  const found = (await storedById(inlet)).get(messageId) ?? [];
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

describe('HTTP API', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet(); });
  after(async () => { await inlet.close(); });

  describe('routes', () => {
    for (const type of EVENT_TYPES) {
      test(`POST /v1/${type} stores a ${type} event`, async () => {
        const messageId = id();
        const reply = await postJson(inlet.url, `/v1/${type}`, { userId: 'u-1', messageId, ...single[type] }, inlet.writeKey);
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(reply.json, { accepted: 1, rejected: 0, errors: [] });
        const record = await storedOne(inlet, messageId);
        assert.equal(record.type, type);
        assert.equal(record.userId, 'u-1');
        assert.equal(record.sourceId, inlet.server.defaultSource!.id);
        assert.ok(!Number.isNaN(Date.parse(record.receivedAt)));
      });
    }

    for (const path of ['/v1/batch', '/v1/import']) {
      test(`POST ${path} stores each item with its own type`, async () => {
        const items = EVENT_TYPES.map((type) => ({ type, messageId: id(), anonymousId: 'a-1', ...single[type] }));
        const reply = await postJson(inlet.url, path, { batch: items }, inlet.writeKey);
        assert.equal(reply.status, 200, reply.text);
        assert.equal(reply.json?.accepted, items.length);
        for (const item of items) assert.equal((await storedOne(inlet, item.messageId)).type, item.type);
      });
    }

    test("a batch's own context and integrations reach each of its events, whose own keys win (as Segment's HTTP API)", async () => {
      const bare = { type: 'track', event: 'Song Played', userId: 'u-batch', messageId: id() };
      const ownContext = { type: 'track', event: 'Song Played', userId: 'u-batch', messageId: id(), context: { locale: 'fr-FR', device: { name: 'Pixel' } } };
      const ownIntegrations = { type: 'identify', userId: 'u-batch', messageId: id(), integrations: { Mixpanel: false } };
      const reply = await postJson(inlet.url, '/v1/batch', {
        batch: [bare, ownContext, ownIntegrations],
        context: { device: { type: 'phone', name: 'Apple iPhone 6' }, locale: 'en-US' },
        integrations: { All: false, Mixpanel: true },
      }, inlet.writeKey);
      assert.equal(reply.status, 200, reply.text);
      const first = await storedOne(inlet, bare.messageId);
      assert.deepEqual(first.context?.device, { type: 'phone', name: 'Apple iPhone 6' });
      assert.equal(first.context?.locale, 'en-US');
      assert.deepEqual(first.integrations, { All: false, Mixpanel: true });
      const second = await storedOne(inlet, ownContext.messageId);
      assert.equal(second.context?.locale, 'fr-FR');
      assert.deepEqual(second.context?.device, { name: 'Pixel' }, "an event's own device replaces the batch's whole");
      assert.deepEqual((await storedOne(inlet, ownIntegrations.messageId)).integrations, { All: false, Mixpanel: false });
    });

    test("a batch's shared context that is not an object, or that copied into every event outgrows the body limit, refuses the body", async () => {
      const notObject = await postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track', event: 'e', userId: 'u' }], context: 'mobile' }, inlet.writeKey);
      assert.equal(notObject.status, 400, notObject.text);
      assert.equal(notObject.json?.code, 'INLET_INVALID_BODY');
      assert.match(String(notObject.json?.error), /context beside batch must be an object/);
      // 600 events sharing a 1 KB context: 600 KB copied, within four times the body limit.
      const some = Array.from({ length: 600 }, () => ({ type: 'track', event: 'e', userId: 'u' }));
      assert.equal((await postJson(inlet.url, '/v1/batch', { batch: some, context: { pad: 'x'.repeat(1000) } }, inlet.writeKey)).status, 200);
      // 1,000 events with a 3 KB context each: 3 MB of records from a body of 60 KB.
      const batch = Array.from({ length: 1000 }, () => ({ type: 'track', event: 'e', userId: 'u' }));
      const amplified = await postJson(inlet.url, '/v1/batch', { batch, context: { pad: 'x'.repeat(3000) } }, inlet.writeKey);
      assert.equal(amplified.status, 413, amplified.text);
      assert.equal(amplified.json?.code, 'INLET_BODY_TOO_LARGE');
      assert.match(String(amplified.json?.error), /copied into each of its 1000 events/);
    });

    test('GET /v1/ping answers 204 with no body', async () => {
      const reply = await request(inlet.url, '/v1/ping', { method: 'GET' });
      assert.equal(reply.status, 204);
      assert.equal(reply.text, '');
    });

    test('GET /health/ready answers 200 when the sink and the source store can take writes', async () => {
      const reply = await request(inlet.url, '/health/ready', { method: 'GET' });
      assert.equal(reply.status, 200);
      assert.equal(reply.json?.status, 'ready');
    });

    test('GET /metrics on the admin listener has the request, event, sink and rate-limit series', async () => {
      const scrape = () => request(inlet.adminUrl, '/metrics', { method: 'GET', headers: { authorization: `Bearer ${inlet.adminToken}` } });
      const batches = (text: string) => Number(/^inlet_sink_batches_total (\d+)$/m.exec(text)?.[1]);
      const before = batches((await scrape()).text);
      await postJson(inlet.url, '/v1/batch', { batch: [{ type: 'track', userId: 'u', event: 'ok' }, { type: 'track', userId: 'u' }] }, inlet.writeKey);
      const reply = await scrape();
      // One request alone: its accepted and its failed event in one group commit.
      assert.equal(batches(reply.text) - before, 1);
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers['content-type']), /text\/plain/);
      for (const name of ['inlet_http_requests_total', 'inlet_events_total', 'inlet_sink_write_seconds', 'inlet_rate_limited_requests_total', 'inlet_failed_events_dropped_total']) {
        assert.match(reply.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      const sourceId = inlet.server.defaultSource!.id;
      assert.match(reply.text, /^inlet_http_requests_total\{route="\/v1\/batch",status="200"\} [1-9]/m);
      assert.match(reply.text, new RegExp(`^inlet_events_total\\{source_id="${sourceId}",outcome="failed",reason="invalid"\\} [1-9]`, 'm'));
      assert.match(reply.text, new RegExp(`^inlet_events_total\\{source_id="${sourceId}",outcome="stored",reason=""\\} [1-9]`, 'm'));
      assert.match(reply.text, /^inlet_sink_write_seconds_count\{outcome="stored"\} [1-9]/m);
    });

    test('GET /metrics is not on the public port (unless METRICS_ON_PUBLIC_PORT)', async () => {
      assert.equal((await request(inlet.url, '/metrics', { method: 'GET' })).status, 404);
    });
  });

  describe('auth', () => {
    test('write key in the body', async () => {
      const messageId = id();
      const reply = await postJson(inlet.url, '/v1/track', { writeKey: inlet.writeKey, userId: 'u', event: 'e', messageId });
      assert.equal(reply.status, 200, reply.text);
      const record = await storedOne(inlet, messageId);
      assert.ok(!('writeKey' in record), 'the write key is not stored');
    });

    test('write key in a Basic header, with or without the colon', async () => {
      const withColon = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, inlet.writeKey);
      assert.equal(withColon.status, 200);
      const bare = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, undefined, { authorization: `Basic ${Buffer.from(inlet.writeKey).toString('base64')}` });
      assert.equal(bare.status, 200);
    });

    test('missing write key → 401 "Missing write key"', async () => {
      const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' });
      assert.equal(reply.status, 401);
      assert.equal(reply.json?.error, 'Missing write key');
      assert.equal(reply.json?.code, 'INLET_MISSING_WRITE_KEY');
    });

    test('unknown write key → 401, in the body or the header', async () => {
      for (const reply of [
        await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, 'wk_nope'),
        await postJson(inlet.url, '/v1/batch', { writeKey: 'wk_nope', batch: [] }),
      ]) {
        assert.equal(reply.status, 401);
        assert.equal(reply.json?.code, 'INLET_INVALID_WRITE_KEY');
        assert.match(String(reply.json?.error), /write key/i);
      }
    });

    test('a revoked key → 401, even right after it was used (cache cleared on revoke)', async () => {
      const source = await inlet.server.sources.create({ name: `revoke-${randomUUID()}` });
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, source.writeKey)).status, 200);
      assert.equal(await inlet.server.sources.revoke(source.id), true);
      const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, source.writeKey);
      assert.equal(reply.status, 401);
      assert.match(String(reply.json?.error), /revoked/);
    });
  });

  describe('responses', () => {
    test('partial success: valid events are kept, invalid ones reported by index', async () => {
      const good = [id(), id()];
      const reply = await postJson(inlet.url, '/v1/batch', { batch: [
        { type: 'track', userId: 'u', event: 'a', messageId: good[0] },
        { type: 'track', userId: 'u', messageId: id() },
        { type: 'identify', anonymousId: 'x', messageId: good[1] },
        { type: 'bogus', userId: 'u' },
      ] }, inlet.writeKey);
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json?.accepted, 2);
      assert.equal(reply.json?.rejected, 2);
      const errors = reply.json?.errors as Array<{ index: number; errors: string[] }>;
      assert.deepEqual(errors.map((e) => e.index), [1, 3]);
      assert.match(errors[0].errors[0], /event is required/);
      for (const messageId of good) await storedOne(inlet, messageId);
    });

    test('a duplicate messageId is acknowledged but stored once', async () => {
      const messageId = id();
      const event = { userId: 'u', event: 'dup', messageId };
      const [a, b] = await Promise.all([postJson(inlet.url, '/v1/track', event, inlet.writeKey), postJson(inlet.url, '/v1/track', event, inlet.writeKey)]);
      const c = await postJson(inlet.url, '/v1/batch', { batch: [{ ...event, type: 'track' }, { ...event, type: 'track' }] }, inlet.writeKey);
      for (const reply of [a, b, c]) assert.equal(reply.status, 200);
      await storedOne(inlet, messageId);
    });

    test('a generated messageId when the client sends none', async () => {
      const marker = randomUUID();
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: marker }, inlet.writeKey)).status, 200);
      const record = (await inlet.events()).find((r) => r.event === marker);
      assert.match(record?.messageId ?? '', /^[0-9a-f-]{36}$/);
    });
  });

  describe('bodies and CORS', () => {
    test('CORS preflight: 204, any origin, cached', async () => {
      const reply = await request(inlet.url, '/v1/batch', { method: 'OPTIONS', headers: {
        origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization',
      } });
      assert.equal(reply.status, 204);
      assert.equal(reply.headers['access-control-allow-origin'], '*');
      assert.ok(Number(reply.headers['access-control-max-age']) >= 600);
      assert.match(String(reply.headers['access-control-allow-methods']), /POST/);
      assert.match(String(reply.headers['access-control-allow-headers']).toLowerCase(), /content-type/);
      assert.match(String(reply.headers['access-control-allow-headers']).toLowerCase(), /authorization/);
    });

    test('CORS: a POST from an origin gets allow-origin *, also on errors', async () => {
      const ok = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, inlet.writeKey, { origin: 'https://shop.example' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['access-control-allow-origin'], '*');
      const denied = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, 'wk_nope', { origin: 'https://shop.example' });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers['access-control-allow-origin'], '*', 'a browser can read the error');
      assert.match(String(denied.headers['access-control-expose-headers']), /Retry-After/, 'a browser SDK can read Retry-After');
    });

    test('text/plain JSON (what sendBeacon sends) is accepted', async () => {
      const messageId = id();
      const reply = await request(inlet.url, '/v1/batch', {
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: JSON.stringify({ writeKey: inlet.writeKey, batch: [{ type: 'track', userId: 'u', event: 'beacon', messageId }] }),
      });
      assert.equal(reply.status, 200, reply.text);
      assert.equal((await storedOne(inlet, messageId)).event, 'beacon');
    });

    test('a gzip body is accepted', async () => {
      const messageIds = Array.from({ length: 50 }, id);
      const body = gzipSync(JSON.stringify({ batch: messageIds.map((messageId) => ({ type: 'track', userId: 'u', event: 'zipped', messageId })) }));
      const reply = await request(inlet.url, '/v1/batch', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: basic(inlet.writeKey) }, body });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json?.accepted, 50);
      const stored = await storedById(inlet);
      for (const messageId of messageIds) assert.equal(stored.get(messageId)?.length, 1);
    });
  });

  describe('client IP', () => {
    test('context.ip is the peer, not what the client claims or X-Forwarded-For from an untrusted peer', async () => {
      const messageId = id();
      const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e', messageId, context: { ip: '6.6.6.6' } }, inlet.writeKey, { 'x-forwarded-for': '203.0.113.5' });
      assert.equal(reply.status, 200);
      assert.equal((await storedOne(inlet, messageId)).context.ip, '127.0.0.1');
    });
  });
});

describe('HTTP API behind a trusted proxy', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet({ trustedProxies: ['127.0.0.1'] }); });
  after(async () => { await inlet.close(); });

  const send = async (writeKey: string, forwardedFor: string) => {
    const messageId = id();
    const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e', messageId }, writeKey, { 'x-forwarded-for': forwardedFor });
    assert.equal(reply.status, 200, reply.text);
    return storedOne(inlet, messageId);
  };

  test('X-Forwarded-For from a trusted peer gives the client address', async () => {
    assert.equal((await send(inlet.writeKey, '203.0.113.5')).context.ip, '203.0.113.5');
  });

  test('only the hop the trusted proxy added counts; a forged left part is ignored', async () => {
    assert.equal((await send(inlet.writeKey, '6.6.6.6, 198.51.100.4')).context.ip, '198.51.100.4');
    assert.equal((await send(inlet.writeKey, 'not-an-ip')).context.ip, '127.0.0.1');
  });

  test('a hop written with a port (as Azure Application Gateway does) or as an upper-case IPv4-mapped address gives the address', async () => {
    assert.equal((await send(inlet.writeKey, '203.0.113.9:51234')).context.ip, '203.0.113.9');
    assert.equal((await send(inlet.writeKey, '[2001:db8::9]:443')).context.ip, '2001:db8::9');
    assert.equal((await send(inlet.writeKey, '::FFFF:198.51.100.9')).context.ip, '198.51.100.9');
    for (const odd of ['203.0.113.9:99999x', '203.0.113.9:65536', '[203.0.113.9]:80', '[fe80::1%eth0]:80', '2001:db8::9:80:90:ab:cd:ef:12', '1.2.3.4:5:6']) {
      assert.equal((await send(inlet.writeKey, odd)).context.ip, '127.0.0.1', odd);
    }
  });

  test("the source's IP policy: anonymize (IPv4 and IPv6) and drop", async () => {
    const anonymize = await inlet.server.sources.create({ name: 'anon', ipPolicy: 'anonymize' });
    const drop = await inlet.server.sources.create({ name: 'drop', ipPolicy: 'drop' });
    assert.equal((await send(anonymize.writeKey, '203.0.113.77')).context.ip, '203.0.113.0');
    assert.equal((await send(anonymize.writeKey, '2001:db8:abcd:12:3456::1')).context.ip, '2001:db8:abcd::');
    const dropped = await send(drop.writeKey, '203.0.113.77');
    assert.ok(!('ip' in dropped.context));
    assert.ok(!JSON.stringify(dropped).includes('203.0.113.77'));
  });
});

describe('HTTP API rate limit', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet({ rateLimit: { requestsPerMinute: 3, eventsPerMinute: 1000, addressPercent: 100 } }); });
  after(async () => { await inlet.close(); });

  test('over the per-key request budget → 429 with Retry-After and RateLimit headers', async () => {
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e', messageId: id() }, inlet.writeKey));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 429]);
    assert.equal(replies[0].headers['ratelimit-limit'], '3');
    assert.equal(replies[0].headers['ratelimit-remaining'], '2');
    const limited = replies[3];
    assert.equal(limited.json?.code, 'INLET_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal(limited.headers['ratelimit-limit'], '3');
    assert.equal(limited.headers['ratelimit-remaining'], '0');
    assert.ok(Number(limited.headers['ratelimit-reset']) >= 1);
    assert.equal((await inlet.events()).length, 3, 'the refused request stored nothing');

    const other = await inlet.server.sources.create({ name: 'other' });
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, other.writeKey)).status, 200, 'budgets are per key');
    const metrics = await request(inlet.adminUrl, '/metrics', { method: 'GET', headers: { authorization: `Bearer ${inlet.adminToken}` } });
    assert.match(metrics.text, /^inlet_rate_limited_requests_total\{budget="source"\} 1$/m);
  });
});
describe('HTTP API rate limit per client address of a browser source', () => {
  let inlet: TestInlet;
  // 20% of 10 requests a minute: 2 per client address.
  before(async () => { inlet = await startInlet({ trustedProxies: ['127.0.0.1'], rateLimit: { requestsPerMinute: 10, eventsPerMinute: 1000, addressPercent: 20 } }); });
  after(async () => { await inlet.close(); });

  const track = (writeKey: string, address: string) => postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e', messageId: id() }, writeKey, { 'x-forwarded-for': address });

  test('one address gets its share of a browser key, then a 429 naming its address; other addresses, and server keys, go on', async () => {
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await track(inlet.writeKey, '203.0.113.5'));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 429]);
    const limited = replies[2];
    assert.equal(limited.json?.code, 'INLET_RATE_LIMITED');
    assert.match(String(limited.json?.error), /client address has used its share/);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(limited.headers['ratelimit-limit'], '2');
    assert.equal((await track(inlet.writeKey, '203.0.113.6')).status, 200, 'another address has its own share');

    // Its share spent, the address is refused before its body is read: a body that never comes is not waited for.
    const early = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
      const req = httpRequest(`${inlet.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000', authorization: basic(inlet.writeKey), 'x-forwarded-for': '203.0.113.5' } }, (res) => { res.resume(); resolve({ status: res.statusCode ?? 0, headers: res.headers }); });
      req.setTimeout(3000, () => req.destroy(new Error('no answer before the body: the server waited for it')));
      req.on('error', reject);
      req.write('{"batch": [');
    });
    assert.equal(early.status, 429);
    assert.deepEqual([early.headers['ratelimit-limit'], early.headers['ratelimit-remaining']], ['2', '0']);
    assert.ok(Number(early.headers['ratelimit-reset']) >= 1);

    // A key in the body is known only once the body is parsed: a body the route refuses is then
    // kept as a failed event only within the address's share too.
    const bodyKey = await request(inlet.url, '/v1/batch', { body: JSON.stringify({ writeKey: inlet.writeKey, batch: 5 }), headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.5' } });
    assert.equal(bodyKey.status, 429);
    assert.match(String(bodyKey.json?.error), /client address has used its share/);

    // An IPv6 client is counted by its /64.
    assert.equal((await track(inlet.writeKey, '2001:db8:1:2::1')).status, 200);
    assert.equal((await track(inlet.writeKey, '2001:db8:1:2::2')).status, 200);
    assert.equal((await track(inlet.writeKey, '2001:db8:1:2:ffff::3')).status, 429);

    // A body the route refuses is kept as a failed event only within the address's share too.
    const malformed = await request(inlet.url, '/v1/batch', { body: '{"batch": [', headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey), 'x-forwarded-for': '203.0.113.5' } });
    assert.equal(malformed.status, 429);

    const server = await inlet.server.sources.create({ name: `backend-${randomUUID()}`, kind: 'server' });
    const fromBackend = [];
    for (let i = 0; i < 4; i++) fromBackend.push((await track(server.writeKey, '203.0.113.5')).status);
    assert.deepEqual(fromBackend, [200, 200, 200, 200], 'a server key is held to its own budget only');

    const metrics = await request(inlet.adminUrl, '/metrics', { method: 'GET', headers: { authorization: `Bearer ${inlet.adminToken}` } });
    assert.match(metrics.text, /^inlet_rate_limited_requests_total\{budget="address"\} 5$/m);
  });
});

