// The console's side of the admin listener, over plain HTTP: its files (CSP, cache headers), the
// session cookie (login, limits, expiry, forgery, rotation), the CSRF header on changes, live
// events over SSE (within a second, filtered, failed ones with their reason, a slow viewer
// dropped and told, viewers bounded) and /api/health.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import { signingKey } from '../src/admin/token.ts';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { signSession, LOGIN_TRIES, LoginLimiter, MAX_TRACKED_ADDRESSES } from '../src/admin/session.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnInlet } from './child-server.ts';
import { adminRequest, postJson, request, type RawReply } from './http-client.ts';
import { buildConsole } from './console-build.ts';
import { openSse } from './console-sse.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');
const CSRF = { 'x-inlet-csrf': '1' };

async function login(inlet: TestInlet, token = inlet.adminToken!, headers: Record<string, string> = CSRF): Promise<RawReply> {
  return request(inlet.adminUrl, '/api/session', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token }) });
}

const cookieOf = (reply: RawReply): string => {
  const set = reply.headers['set-cookie']?.[0] ?? '';
  return set.split(';')[0];
};

const withCookie = (cookie: string, extra: Record<string, string> = {}) => ({ cookie, ...extra });

const health = async (inlet: TestInlet) => (await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/health')).json as unknown as { live: { viewers: number } };

before(buildConsole);

describe('the console', () => {
  let inlet: TestInlet;
  let cookie: string;
  before(async () => {
    inlet = await startInlet();
    const reply = await login(inlet);
    assert.equal(reply.status, 200, reply.text);
    cookie = cookieOf(reply);
  });
  after(() => inlet?.close());

  test('its page is served with a CSP that allows no inline script, its assets by hashed name cached for a year', async () => {
    const page = await request(inlet.adminUrl, '/console', { method: 'GET' });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.doesNotMatch(page.text, /<script>|<script [^>]*>[^<]/, 'no inline script in the page');
    const assets = [...page.text.matchAll(/\/console\/assets\/(console-[A-Z0-9]+\.(?:js|css))/g)].map((m) => m[1]);
    assert.equal(assets.length, 2, page.text);
    for (const name of assets) {
      const asset = await request(inlet.adminUrl, `/console/assets/${name}`, { method: 'GET', headers: { 'accept-encoding': 'gzip' } });
      assert.equal(asset.status, 200);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(asset.headers['content-encoding'], 'gzip');
    }
    assert.equal((await request(inlet.adminUrl, '/console/assets/nope.js', { method: 'GET' })).status, 404);
  });

  test('a right token gets an httpOnly, SameSite=Strict, expiring session cookie that works for the admin API', async () => {
    const reply = await login(inlet);
    const set = String(reply.headers['set-cookie']?.[0]);
    assert.match(set, /^inlet_session=v2\./);
    assert.match(set, /; HttpOnly/);
    assert.match(set, /; SameSite=Strict/);
    assert.match(set, /; Path=\//);
    assert.match(set, /; Max-Age=43200/);
    assert.ok(!set.includes(inlet.adminToken!), 'the token is not in the cookie');
    const sources = await request(inlet.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(cookie) });
    assert.equal(sources.status, 200);
    assert.equal((await request(inlet.adminUrl, '/api/session', { method: 'GET', headers: withCookie(cookie) })).status, 200);
  });

  test('a wrong token is 401 and counted; no cookie is set', async () => {
    const reply = await login(inlet, `${inlet.adminToken}x`);
    assert.equal(reply.status, 401);
    assert.equal(reply.json?.code, 'INLET_INVALID_ADMIN_TOKEN');
    assert.equal(reply.headers['set-cookie'], undefined);
    const metrics = await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics');
    assert.match(metrics.text, /^inlet_admin_auth_failures_total [1-9]/m);
  });

  test('a change with the session but without the CSRF header is 403 and changes nothing; with it, it is made', async () => {
    const forged = await request(inlet.adminUrl, '/api/sources', { method: 'POST', headers: withCookie(cookie, { 'content-type': 'application/json' }), body: JSON.stringify({ name: 'csrf-victim' }) });
    assert.equal(forged.status, 403);
    assert.equal(forged.json?.code, 'INLET_CSRF_HEADER_REQUIRED');
    const list = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources');
    assert.ok(!JSON.stringify(list.json).includes('csrf-victim'));
    // A login form posted from elsewhere cannot send the header either.
    assert.equal((await login(inlet, inlet.adminToken!, {})).status, 403);
    const made = await request(inlet.adminUrl, '/api/sources', { method: 'POST', headers: withCookie(cookie, { 'content-type': 'application/json', ...CSRF }), body: JSON.stringify({ name: 'csrf-ok' }) });
    assert.equal(made.status, 201, made.text);
    // Scripts with the Bearer token need no such header.
    assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'bearer-ok' } })).status, 201);
  });

  test('a request from another origin with the session is refused', async () => {
    const reply = await request(inlet.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(cookie, { origin: 'https://evil.example' }) });
    assert.equal(reply.status, 403);
    assert.equal(reply.json?.code, 'INLET_FOREIGN_ORIGIN');
  });

  test('a forged or expired session is 401 and the cookie is cleared', async () => {
    const [payload, signature] = [cookie.slice(0, cookie.lastIndexOf('.')), cookie.slice(cookie.lastIndexOf('.') + 1)];
    const tampered = `${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    const expired = `inlet_session=${signSession(signingKey(inlet.adminToken!), Date.now() - 1000)}`;
    const otherKey = `inlet_session=${signSession(signingKey('inlet_at_not-the-token'), Date.now() + 60_000)}`;
    // What the store holds (and a backup of it) makes no session: the old way derived the key from it.
    const stored = (await inlet.server.sources.adminTokenHash())!;
    assert.match(stored, /^ed25519:[0-9a-f]{64}$/);
    const fromStore = createHmac('sha256', Buffer.from(stored.slice(8), 'hex')).update('inlet console session v1').digest();
    const v1Payload = `v1.${(Date.now() + 60_000).toString(36)}.nonce`;
    const madeFromStore = `inlet_session=${v1Payload}.${createHmac('sha256', fromStore).update(v1Payload).digest('base64url')}`;
    const v2FromStore = `inlet_session=v2.${(Date.now() + 60_000).toString(36)}.nonce.${createHmac('sha256', Buffer.from(stored)).update('x').digest('base64url')}`;
    for (const bad of [tampered, expired, otherKey, madeFromStore, v2FromStore, 'inlet_session=garbage']) {
      const reply = await request(inlet.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(bad) });
      assert.equal(reply.status, 401, bad);
      assert.equal(reply.json?.code, 'INLET_SESSION_EXPIRED');
      assert.match(String(reply.headers['set-cookie']), /inlet_session=; .*Max-Age=0/);
    }
    // A session signed with the token's key and not expired works: the test derives it as the server does.
    const good = `inlet_session=${signSession(signingKey(inlet.adminToken!), Date.now() + 60_000)}`;
    assert.equal((await request(inlet.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(good) })).status, 200);
  });

  test('live: a stored event reaches a viewer within a second, filtered, with <script> kept as text in its JSON', async () => {
    const all = await openSse(inlet.adminUrl, '/api/live', withCookie(cookie));
    const mine = await openSse(inlet.adminUrl, '/api/live?user=live-user&type=track', withCookie(cookie));
    try {
      assert.equal(all.status, 200);
      assert.match(String(all.headers['content-type']), /text\/event-stream/);
      const evil = '<script>window.pwned = 1</script>';
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'someone-else', event: 'Other' }, inlet.writeKey)).status, 200);
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'live-user', event: 'Signed Up', properties: { html: evil } }, inlet.writeKey)).status, 200);
      // Within 1 s of the request's 200, as the console promises.
      const answeredAt = Date.now();
      const seen = await mine.next((e) => e.event === 'stored', 1000);
      assert.ok(Date.now() - answeredAt < 1000, `within a second of the 200 (${Date.now() - answeredAt} ms)`);
      const record = JSON.parse(seen.data);
      assert.equal(record.event, 'Signed Up');
      assert.equal(record.properties.html, evil);
      await all.next((e) => e.event === 'stored' && JSON.parse(e.data).userId === 'someone-else', 1000);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!mine.events.some((e) => e.data.includes('someone-else')), 'the filter keeps other users out');
    } finally {
      all.close();
      mine.close();
    }
  });

  test('live: a page is found by its own name, not by the page_viewed every stored page carries', async () => {
    const pricing = await openSse(inlet.adminUrl, '/api/live?event=Pricing', withCookie(cookie));
    const viewed = await openSse(inlet.adminUrl, '/api/live?event=page_viewed', withCookie(cookie));
    try {
      assert.equal((await postJson(inlet.url, '/v1/page', { userId: 'page-viewer', name: 'Home' }, inlet.writeKey)).status, 200);
      assert.equal((await postJson(inlet.url, '/v1/page', { userId: 'page-viewer', name: 'Pricing' }, inlet.writeKey)).status, 200);
      const seen = JSON.parse((await pricing.next((e) => e.event === 'stored', 1000)).data);
      assert.equal(seen.name, 'Pricing');
      assert.equal(seen.event, 'page_viewed');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(pricing.events.filter((e) => e.event === 'stored').map((e) => JSON.parse(e.data).name), ['Pricing']);
      assert.equal(viewed.events.filter((e) => e.event === 'stored').length, 0, 'pages are named by their name');
    } finally {
      pricing.close();
      viewed.close();
    }
  });

  test('live: a failed event arrives with its reason', async () => {
    const stream = await openSse(inlet.adminUrl, '/api/live', withCookie(cookie));
    try {
      await postJson(inlet.url, '/v1/track', { userId: 'u-failing' }, inlet.writeKey);
      const failed = await stream.next((e) => e.event === 'failed', 1000);
      const entry = JSON.parse(failed.data);
      assert.equal(entry.reason, 'invalid');
      assert.deepEqual(entry.errors, ['event is required']);
    } finally {
      stream.close();
    }
  });

  test('live needs the session or the token', async () => {
    const stream = await openSse(inlet.adminUrl, '/api/live', {});
    assert.equal(stream.status, 401);
    stream.close();
  });

  test('live answers HEAD with 405 at once (a stream has no head), holding no viewer slot', async () => {
    const reply = await request(inlet.adminUrl, '/api/live', { method: 'HEAD', headers: withCookie(cookie) });
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.allow, 'GET');
    assert.equal((await health(inlet)).live.viewers, 0);
  });

  test('health: the sink, whether it is ready, and requests by status', async () => {
    const reply = await request(inlet.adminUrl, '/api/health', { method: 'GET', headers: withCookie(cookie) });
    assert.equal(reply.status, 200);
    const health = reply.json as any;
    assert.equal(health.sink.kind, 'embedded');
    assert.equal(health.sink.ready, true);
    assert.equal(health.publicUrl, inlet.url);
    assert.ok(health.requests.some((r: any) => r.status === '200' && r.count > 0), JSON.stringify(health.requests));
    assert.equal(typeof health.sink.latencyMs.p50, 'number');
  });
});

test('inlet serve says the console address (in its log, and in the first-start file), and the page is there', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-console-banner-'));
  const child = await spawnInlet(dataDir, await freePort());
  try {
    const shown = /Console: (http:\/\/127\.0\.0\.1:\d+\/console) \(sign in with the admin token\)/.exec(child.firstStart ?? '');
    assert.ok(shown, child.firstStart);
    assert.equal(shown[1], `${child.adminUrl}/console`);
    assert.equal(child.listening.consoleUrl, shown[1]);
    assert.equal((await fetch(shown[1])).status, 200);
  } finally {
    child.child.kill('SIGTERM');
    await child.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('wrong logins from very many addresses are remembered within a bound; the newest are kept', () => {
  const limiter = new LoginLimiter();
  const now = Date.now();
  for (let i = 0; i < MAX_TRACKED_ADDRESSES * 2; i++) limiter.failed(`10.0.${i >> 8}.${i & 255}-${i}`, now);
  assert.ok(limiter.tracked <= MAX_TRACKED_ADDRESSES, `${limiter.tracked} addresses`);
  const last = MAX_TRACKED_ADDRESSES * 2 - 1;
  const newest = `10.0.${last >> 8}.${last & 255}-${last}`;
  for (let i = 1; i < LOGIN_TRIES; i++) limiter.failed(newest, now);
  assert.ok(limiter.refused(newest, now)! > 0, 'the newest address is still counted');
});

test('closing the server ends open live streams instead of waiting on them', { timeout: 20_000 }, async () => {
  const inlet = await startInlet();
  const stream = await openSse(inlet.adminUrl, '/api/live', { authorization: `Bearer ${inlet.adminToken}` });
  assert.equal(stream.status, 200);
  const started = Date.now();
  await inlet.close();
  await stream.text();
  assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
});

test('plan violations per event name in the last hour: flagged ones stored, blocked ones failed', async () => {
  const inlet = await startInlet();
  try {
    const id = inlet.server.defaultSource!.id;
    const plan = { unplanned: 'flag', violations: 'block', events: { 'Order Completed': { properties: { type: 'object', required: ['total'] } } } };
    assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${id}/plan`, { method: 'PUT', body: plan })).status, 201);
    await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'Order Completed', properties: { total: 1 } }, inlet.writeKey);
    await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'Order Completed', properties: {} }, inlet.writeKey);
    await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'Order Completed' }, inlet.writeKey);
    await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'Unplanned Thing' }, inlet.writeKey);
    const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${id}/plan/violations?since=1h`);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual((reply.json as any).names, [
      { name: 'Order Completed', flagged: 0, blocked: 2 },
      { name: 'Unplanned Thing', flagged: 1, blocked: 0 },
    ]);
    assert.equal((reply.json as any).truncated, false);
    assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources/src_nope/plan/violations')).status, 404);
    assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${id}/plan/violations?since=soon`)).status, 400);
  } finally {
    await inlet.close();
  }
});

describe('the console under pressure', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet(); });
  after(() => inlet?.close());

  test(`login is refused (429, Retry-After) after ${LOGIN_TRIES} wrong tokens from one address, even with the right one`, async () => {
    for (let i = 0; i < LOGIN_TRIES; i++) assert.equal((await login(inlet, `wrong-${i}`)).status, 401);
    const limited = await login(inlet);
    assert.equal(limited.status, 429);
    assert.equal(limited.json?.code, 'INLET_LOGIN_LIMITED');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // The Bearer token keeps working for scripts.
    assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources')).status, 200);
  });

  test('behind a trusted proxy the login limit counts the address it forwards: one client locked out does not lock out the next', async () => {
    const proxied = await startInlet({ trustedProxies: ['127.0.0.1'] });
    try {
      const from = (address: string, token?: string) => login(proxied, token, { ...CSRF, 'x-forwarded-for': address });
      for (let i = 0; i < LOGIN_TRIES; i++) assert.equal((await from('198.51.100.7', `wrong-${i}`)).status, 401);
      assert.equal((await from('198.51.100.7')).status, 429, 'the guessing client is locked out');
      assert.equal((await from('198.51.100.8')).status, 200, 'another admin behind the same proxy is not');
    } finally {
      await proxied.close();
    }
  });

  test('bad bytes after a live stream began end the stream without a second answer written into it', async () => {
    const { hostname, port } = new URL(inlet.adminUrl);
    const socket = net.connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { received += chunk; });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(`GET /api/live HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${inlet.adminToken}\r\nAccept: text/event-stream\r\n\r\n`);
    const until = Date.now() + 5000;
    while (!received.includes('\r\n\r\n') && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(received, /^HTTP\/1\.1 200 /, 'the stream began');
    const streamed = received.length;
    // Parsed as a next request while the stream's answer is still open: not valid HTTP.
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    assert.ok(socket.destroyed || socket.readableEnded, 'the connection was ended');
    assert.doesNotMatch(received.slice(streamed), /HTTP\/1\.1 \d{3}/, 'no status line inside the event stream');
  });

  test('a 100-viewer burst is bounded: the 101st gets 503 and ingestion stays responsive', { timeout: 60_000 }, async () => {
    const auth = { authorization: `Bearer ${inlet.adminToken}` };
    const streams = await Promise.all(Array.from({ length: 101 }, () => openSse(inlet.adminUrl, '/api/live', auth)));
    try {
      const statuses = streams.map((s) => s.status);
      assert.equal(statuses.filter((s) => s === 200).length, 100, JSON.stringify(statuses));
      const refused = streams.find((s) => s.status === 503)!;
      assert.ok(refused, 'one is refused');
      assert.match(await refused.text(), /INLET_TOO_MANY_VIEWERS/);
      const started = Date.now();
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'During burst' }, inlet.writeKey)).status, 200);
      assert.ok(Date.now() - started < 2000);
      await Promise.all(streams.filter((s) => s.status === 200).map((s) => s.next((e) => e.event === 'stored', 5000)));
    } finally {
      for (const s of streams) s.close();
    }
    // Once they are gone a new viewer is let in again.
    await new Promise((r) => setTimeout(r, 200));
    const again = await openSse(inlet.adminUrl, '/api/live', auth);
    assert.equal(again.status, 200);
    again.close();
  });

  test('a viewer that does not read loses events and is told how many; ingestion is not held up', { timeout: 60_000 }, async () => {
    const auth = { authorization: `Bearer ${inlet.adminToken}` };
    const slow = await openSse(inlet.adminUrl, '/api/live', auth);
    try {
      slow.pause();
      const padding = 'x'.repeat(4000);
      let sent = 0;
      // 20 MB of events, far more than the viewer's queue and the socket's buffers hold.
      for (let b = 0; b < 50; b++) {
        const batch = Array.from({ length: 100 }, (_, i) => ({ type: 'track', userId: 'flood', event: 'Flood', messageId: `flood-${b}-${i}`, properties: { padding } }));
        const reply = await postJson(inlet.url, '/v1/batch', { batch }, inlet.writeKey);
        assert.equal(reply.status, 200, reply.text);
        sent += batch.length;
      }
      await new Promise((r) => setTimeout(r, 500));
      slow.resume();
      const notice = await slow.next((e) => e.event === 'dropped', 10_000);
      const dropped = JSON.parse(notice.data).dropped as number;
      assert.ok(dropped > 0 && dropped < sent, `${dropped} of ${sent} dropped`);
    } finally {
      slow.close();
    }
  });

  /** The live stream for all sources, open while `watch` runs. */
  async function watchingLive(watch: (stream: Awaited<ReturnType<typeof openSse>>) => Promise<void>): Promise<void> {
    const stream = await openSse(inlet.adminUrl, '/api/live', { authorization: `Bearer ${inlet.adminToken}` });
    try {
      await watch(stream);
    } finally {
      stream.close();
    }
  }

  /** Events the stream was told it missed. */
  const droppedIn = (stream: Awaited<ReturnType<typeof openSse>>) => stream.events.filter((e) => e.event === 'dropped').reduce((sum, e) => sum + (JSON.parse(e.data).dropped as number), 0);

  test('a burst larger than the page keeps is read only in part: the newest are shown, the older counted as dropped, none read twice', { timeout: 30_000 }, async () => {
    await watchingLive(async (stream) => {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'track', userId: 'burst', event: `Burst ${i}`, messageId: `burst-${i}` }));
      assert.equal((await postJson(inlet.url, '/v1/batch', { batch }, inlet.writeKey)).status, 200);
      await stream.next((e) => e.event === 'stored' && e.data.includes('"Burst 999"'), 3000);
      await new Promise((r) => setTimeout(r, 300));
      const shown = stream.events.filter((e) => e.event === 'stored').map((e) => Number(/^Burst (\d+)$/.exec(JSON.parse(e.data).event)?.[1]));
      const dropped = droppedIn(stream);
      assert.ok(shown.length <= 500, `${shown.length} of the burst read and sent`);
      assert.equal(new Set(shown).size, shown.length, 'none sent twice');
      // The burst is one commit: its oldest were jumped over, not read; the newest were read.
      assert.ok(shown.every((i) => i >= 500), `the oldest shown is Burst ${Math.min(...shown)}`);
      assert.equal(shown.length + dropped, 1000, `${shown.length} shown and ${dropped} told as dropped`);
    });
  });

  test('many writes at once: every event is either shown once or counted as dropped, failed entries included', { timeout: 30_000 }, async () => {
    await watchingLive(async (stream) => {
      // 40 requests of 25 (one without an event name each, kept as failed), all in flight together.
      const replies = await Promise.all(Array.from({ length: 40 }, (_, r) => postJson(inlet.url, '/v1/batch', {
        batch: Array.from({ length: 25 }, (_, i) => (i === 0 ? { type: 'track', userId: 'many-writes' } : { type: 'track', userId: 'many-writes', event: `Write ${r * 25 + i}` })),
      }, inlet.writeKey)));
      for (const reply of replies) assert.equal(reply.status, 200, reply.text);
      await new Promise((r) => setTimeout(r, 500));
      const ours = stream.events.filter((e) => (e.event === 'stored' || e.event === 'failed') && e.data.includes('many-writes'));
      const shown = ours.filter((e) => e.event === 'stored').map((e) => JSON.parse(e.data).event as string);
      const dropped = droppedIn(stream);
      assert.equal(new Set(shown).size, shown.length, 'none sent twice');
      assert.ok(ours.some((e) => e.event === 'failed'), 'failed entries are in the stream too');
      assert.equal(ours.length + dropped, 1000, `${ours.length} shown and ${dropped} told as dropped`);
    });
  });

  test('rotating the admin token ends every session, and the live streams opened with the old token or a session', { timeout: 30_000 }, async () => {
    // A fresh address budget: the earlier test used this address's tries; a new server has its own.
    const fresh = await startInlet();
    try {
      const cookie = cookieOf(await login(fresh));
      assert.equal((await request(fresh.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(cookie) })).status, 200);
      const bySession = await openSse(fresh.adminUrl, '/api/live', withCookie(cookie));
      const byToken = await openSse(fresh.adminUrl, '/api/live', { authorization: `Bearer ${fresh.adminToken}` });
      assert.deepEqual([bySession.status, byToken.status], [200, 200]);
      const streamsEnd = Promise.all([bySession.text(), byToken.text()]);
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'admin', 'token', '--rotate'], { env: { ...process.env, INLET_DATA_DIR: fresh.dataDir, DATABASE_URL: '' } });
      const rotated = /inlet_at_[\w-]+/.exec(stdout)![0];
      // Within the token's cache (5 s) and a re-check (2 s), with room.
      const ended = await Promise.race([streamsEnd.then(() => true), new Promise((r) => setTimeout(() => r(false), 12_000))]);
      bySession.close();
      byToken.close();
      assert.equal(ended, true, 'both streams were ended by the server');
      assert.equal((await health({ ...fresh, adminToken: rotated } as TestInlet)).live.viewers, 0, 'their viewer slots are free');
      const deadline = Date.now() + 10_000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        status = (await request(fresh.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(cookie) })).status;
      }
      assert.equal(status, 401);
    } finally {
      await fresh.close();
    }
  });
});

test('a store made before holds the token\'s SHA-256: the token still works, and the first login moves the store to the public key', async () => {
  const inlet = await startInlet();
  try {
    const token = inlet.adminToken!;
    await inlet.server.sources.setAdminTokenHash(createHash('sha256').update(token).digest('hex'), true);
    await new Promise((r) => setTimeout(r, 5100)); // the stored value's cache
    assert.equal((await adminRequest(inlet.adminUrl, token, '/api/sources')).status, 200, 'bearer, against the old form');
    const cookie = cookieOf(await login(inlet, token));
    assert.match((await inlet.server.sources.adminTokenHash())!, /^ed25519:/, 'moved at the login');
    assert.equal((await request(inlet.adminUrl, '/api/sources', { method: 'GET', headers: withCookie(cookie) })).status, 200);
    assert.equal((await adminRequest(inlet.adminUrl, token, '/api/sources')).status, 200, 'bearer, against the new form');
  } finally {
    await inlet.close();
  }
});
