// What a request without a valid write key may cost the server: a key in the Authorization header
// is checked before the body is read, and an address that keeps failing is limited (429) before its
// next request costs a lookup or a parse. Real server, embedded store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { answerBeforeBody, startInlet, type TestInlet } from '@inlet/testkit';
import { Authenticator } from '../src/auth.ts';
import { addressKey } from '../src/client-ip.ts';
import { UnauthenticatedLimiter } from '../src/limits/unauthenticated-limiter.ts';
import { createMetrics } from '../src/metrics.ts';
import { CachedSourceStore } from '../src/sources/cached-store.ts';
import { SqliteSourceStore } from '../src/sources/sqlite-store.ts';
import { basic, postJson, request } from './http-client.ts';

async function metricValues(inlet: TestInlet): Promise<Record<string, number>> {
  const reply = await request(inlet.adminUrl, '/metrics', { method: 'GET', headers: { authorization: `Bearer ${inlet.adminToken}` } });
  const values: Record<string, number> = {};
  for (const [, reason, n] of reply.text.matchAll(/^inlet_unauthenticated_requests_total\{reason="(\w+)"\} (\d+)$/gm)) values[reason] = Number(n);
  return values;
}

describe('a key in the Authorization header is checked before the body is read', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet(); });
  after(async () => { await inlet.close(); });

  test('an unknown Basic key gets 401 while the declared body has not been sent', async () => {
    assert.equal(await answerBeforeBody(inlet.url, { authorization: basic('wk_not-a-key') }, 400_000), 401);
  });

  test('a malformed Basic header gets 401 before the body too; another scheme waits for the body, where the key may be (Segment OAuth)', async () => {
    assert.equal(await answerBeforeBody(inlet.url, { authorization: 'Basic ' }, 400_000), 401);
    assert.equal(await answerBeforeBody(inlet.url, { authorization: 'Bearer x' }, 400_000, 500), undefined);
  });

  test('a valid Basic key waits for its body (and the body is then read as usual)', async () => {
    assert.equal(await answerBeforeBody(inlet.url, { authorization: basic(inlet.writeKey) }, 400_000, 500), undefined);
    const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'after', messageId: `m-${randomUUID()}` }, inlet.writeKey);
    assert.equal(reply.status, 200);
  });

  test('a body that is not JSON, with an unknown header key, gets 401 (it was never parsed), not 400', async () => {
    const reply = await request(inlet.url, '/v1/batch', { headers: { authorization: basic('wk_unknown'), 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(reply.status, 401);
    assert.equal(reply.json?.code, 'INLET_INVALID_WRITE_KEY');
  });

  test('an Authorization header sent again is checked again: an unknown key is refused and counted each time', async () => {
    const header = basic(`wk_unknown-${randomUUID()}`);
    const before = (await metricValues(inlet)).unknown ?? 0;
    for (let i = 0; i < 3; i++) {
      const reply = await request(inlet.url, '/v1/track', { headers: { authorization: header, 'content-type': 'application/json' }, body: '{"event":"x","userId":"u"}' });
      assert.equal(reply.status, 401);
    }
    assert.equal((await metricValues(inlet)).unknown, before + 3);
  });

  test('a key that only comes in the body (Segment\'s form) still works', async () => {
    const messageId = `m-${randomUUID()}`;
    const reply = await request(inlet.url, '/v1/track', { headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ writeKey: inlet.writeKey, userId: 'u', event: 'in body', messageId }) });
    assert.equal(reply.status, 200);
    assert.ok((await inlet.events()).some((e) => e.messageId === messageId));
  });
});

describe('requests without a valid key are limited per client address', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet({ unauthenticated: { perSecond: 1, burst: 5 } }); });
  after(async () => { await inlet.close(); });

  test('past the burst an address gets 429 with Retry-After, saying it is for requests without a valid key, counted by reason; a valid key in use from it still works', async () => {
    const first = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'valid', messageId: `m-${randomUUID()}` }, inlet.writeKey);
    assert.equal(first.status, 200);
    const revoked = await inlet.server.sources.create({ name: 'to revoke' });
    await inlet.server.sources.revoke(revoked.id);
    const statuses: number[] = [];
    statuses.push((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' })).status); // missing
    statuses.push((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, revoked.writeKey)).status); // revoked
    for (let i = 0; i < 3; i++) statuses.push((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, `wk_unknown_${i}`)).status);
    const limited = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, 'wk_unknown_next');
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    assert.equal(limited.status, 429);
    assert.equal(limited.json?.code, 'INLET_RATE_LIMITED');
    assert.match(String(limited.json?.error), /without a valid write key from this address/, 'says why, unlike a key over its rate limit');
    assert.ok(Number(limited.headers['retry-after']) >= 1, `Retry-After ${limited.headers['retry-after']}`);

    // Refused before the body: a limited address does not get its body read or parsed either.
    assert.equal(await answerBeforeBody(inlet.url, {}, 400_000), 429);

    const ok = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'valid', messageId: `m-${randomUUID()}` }, inlet.writeKey);
    assert.equal(ok.status, 200, 'a valid key is never limited by other requests\' failures');

    assert.deepEqual(await metricValues(inlet), { missing: 1, revoked: 1, unknown: 3, limited: 2 });
  });

  test('another address has its own budget', async () => {
    const reply = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, 'wk_unknown', { 'x-forwarded-for': '198.51.100.7' });
    // X-Forwarded-For is not believed without TRUSTED_PROXIES: same peer, same budget.
    assert.equal(reply.status, 429);
  });
});

describe('the per-address budget', () => {
  test('refills at its rate, up to the burst', () => {
    const limiter = new UnauthenticatedLimiter({ perSecond: 2, burst: 3 });
    const t = 1_000_000;
    for (let i = 0; i < 3; i++) { assert.equal(limiter.retryAfter('192.0.2.1', t), 0); limiter.spend('192.0.2.1', t); }
    assert.equal(limiter.retryAfter('192.0.2.1', t), 1);
    assert.equal(limiter.retryAfter('192.0.2.2', t), 0, 'per address');
    assert.equal(limiter.retryAfter('192.0.2.1', t + 500), 0, 'one token back after half a second at 2/s');
  });

  test('remembers at most maxAddresses, forgetting the least recently seen', () => {
    const limiter = new UnauthenticatedLimiter({ perSecond: 1, burst: 1, maxAddresses: 100 });
    for (let i = 0; i < 1000; i++) limiter.spend(`10.0.${i >> 8}.${i & 255}`, 0);
    assert.equal(limiter.size, 100);
    assert.equal(limiter.retryAfter('10.0.3.231', 0), 1, 'the most recent is still limited');
    assert.equal(limiter.retryAfter('10.0.0.0', 0), 0, 'the oldest was forgotten');
  });

  test('an IPv6 host counts by its /64', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  });
});

describe('Authorization headers remembered with their key hash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-auth-headers-'));
  const store = new SqliteSourceStore(dir);
  const sources = new CachedSourceStore(store);
  const auth = new Authenticator({ sources, limiter: new UnauthenticatedLimiter({ perSecond: 1_000_000, burst: 1_000_000 }), metrics: createMetrics() });
  const requestWith = (authorization: string) => ({ headers: { authorization } }) as unknown as FastifyRequest;
  after(async () => { await sources.close(); rmSync(dir, { recursive: true, force: true }); });

  test('a header is known without waiting only once its key named an active source', async () => {
    const { writeKey, id } = await store.create({ name: `remembered-${randomUUID()}` });
    const header = basic(writeKey);
    assert.equal(auth.knownBeforeBody(requestWith(header)), undefined);
    assert.equal((await auth.beforeBody(requestWith(header), '10.0.0.1'))?.id, id);
    assert.equal(auth.knownBeforeBody(requestWith(header))?.id, id);
    // The same key written another way is another header: checked before it is remembered.
    assert.equal(auth.knownBeforeBody(requestWith(`Basic ${Buffer.from(`${writeKey}:x`).toString('base64')}`)), undefined);
  });

  test('unknown keys are never remembered, so a flood of them does not push out a known header', async () => {
    const { writeKey, id } = await store.create({ name: `flooded-${randomUUID()}` });
    const header = basic(writeKey);
    await auth.beforeBody(requestWith(header), '10.0.0.2');
    for (let i = 0; i < 2_000; i++) {
      const junk = basic(`wk_junk-${i}-${randomUUID()}`);
      await assert.rejects(auth.beforeBody(requestWith(junk), '10.0.0.3'), { code: 'INLET_INVALID_WRITE_KEY' });
      if (i % 500 === 499) assert.equal(auth.knownBeforeBody(requestWith(header))?.id, id, `after ${i + 1} unknown keys`);
    }
    assert.equal(auth.knownBeforeBody(requestWith(header))?.id, id);
  });
});
