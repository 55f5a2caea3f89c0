// The console's session cookie against real servers: Secure when the browser came over HTTPS (a
// trusted proxy's X-Forwarded-Proto), not from anyone else's word nor over plain HTTP; and
// signing out ends the session on every instance (the embedded store; two instances sharing
// PostgreSQL), what was signed out is pruned when its cookie expires, and through a PostgreSQL
// outage sessions keep working, signed-out ones stay refused, and a sign-out waits for the store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { needPostgres, startInlet, TcpRelay, type TestInlet } from '@inlet/testkit';
import { EndedSessions, MAX_REMEMBERED_ENDED } from '../src/admin/ended-sessions.ts';
import { configWith, startServer, type RunningServer } from '../src/index.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { SqliteSourceStore } from '../src/sources/sqlite-store.ts';
import { openSse } from './console-sse.ts';
import { request, type RawReply } from './http-client.ts';
import { dropSchemas } from './pg-schemas.ts';

const CSRF = { 'x-inlet-csrf': '1' };
const postgres = await needPostgres();

const login = (adminUrl: string, token: string, headers: Record<string, string> = {}): Promise<RawReply> =>
  request(adminUrl, '/api/session', { method: 'POST', headers: { 'content-type': 'application/json', ...CSRF, ...headers }, body: JSON.stringify({ token }) });

/** The first Set-Cookie header, whole (name=value and attributes). */
const setCookie = (reply: RawReply): string => String(reply.headers['set-cookie']?.[0] ?? '');
/** What a browser sends back (or an attacker copies): name=value. */
const cookieOf = (reply: RawReply): string => setCookie(reply).split(';')[0];

async function signedIn(adminUrl: string, token: string): Promise<string> {
  const reply = await login(adminUrl, token);
  assert.equal(reply.status, 200, reply.text);
  return cookieOf(reply);
}

const signOut = (adminUrl: string, cookie: string, headers: Record<string, string> = {}) =>
  request(adminUrl, '/api/session', { method: 'DELETE', headers: { cookie, ...CSRF, ...headers } });

const withSession = (adminUrl: string, cookie: string, path = '/api/session') =>
  request(adminUrl, path, { method: 'GET', headers: { cookie } });

const isSecure = (setCookieHeader: string) => /;\s*Secure(;|$)/i.test(setCookieHeader);

describe('the session cookie is Secure when the browser used HTTPS', () => {
  test('behind a trusted proxy saying X-Forwarded-Proto: https the cookie (and its clearing at sign-out) is Secure; saying http, it is not', async () => {
    const inlet = await startInlet({ trustedProxies: ['127.0.0.1'] });
    try {
      const https = await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'https' });
      assert.equal(https.status, 200, https.text);
      assert.ok(isSecure(setCookie(https)), setCookie(https));
      assert.match(setCookie(https), /; HttpOnly; SameSite=Strict/);
      const out = await signOut(inlet.adminUrl, cookieOf(https), { 'x-forwarded-proto': 'https' });
      assert.equal(out.status, 200, out.text);
      assert.match(setCookie(out), /^inlet_session=; .*Max-Age=0/);
      assert.ok(isSecure(setCookie(out)), `cleared as it was set: ${setCookie(out)}`);

      const http = await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'http' });
      assert.equal(http.status, 200);
      assert.ok(!isSecure(setCookie(http)), setCookie(http));
      // Proxies that append: the last value is the one the trusted peer itself set.
      assert.ok(isSecure(setCookie(await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'http, https' }))));
      assert.ok(!isSecure(setCookie(await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'https, http' }))));
    } finally {
      await inlet.close();
    }
  });

  test('X-Forwarded-Proto from a peer that is not a trusted proxy is ignored, and over plain HTTP (the default) the cookie is not Secure and works', async () => {
    const elsewhere = await startInlet({ trustedProxies: ['192.0.2.1'] });
    const plain = await startInlet();
    try {
      for (const inlet of [elsewhere, plain]) {
        const claimed = await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'https' });
        assert.equal(claimed.status, 200, claimed.text);
        assert.ok(!isSecure(setCookie(claimed)), `the client's own word: ${setCookie(claimed)}`);
        const reply = await login(inlet.adminUrl, inlet.adminToken!);
        assert.ok(!isSecure(setCookie(reply)), setCookie(reply));
        assert.equal((await withSession(inlet.adminUrl, cookieOf(reply), '/api/sources')).status, 200, 'the plain-HTTP cookie is sent back and works');
      }
    } finally {
      await Promise.all([elsewhere.close(), plain.close()]);
    }
  });
});

describe('signing out ends the session, not only in the browser', () => {
  test('embedded store: after sign-out a copy of the cookie gets 401 (also after a restart); another session goes on', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-session-'));
    let inlet: TestInlet | undefined = await startInlet({ dataDir });
    try {
      const token = inlet.adminToken!;
      const copied = await signedIn(inlet.adminUrl, token);
      const other = await signedIn(inlet.adminUrl, token);
      assert.equal((await withSession(inlet.adminUrl, copied, '/api/sources')).status, 200);

      const out = await signOut(inlet.adminUrl, copied);
      assert.equal(out.status, 200, out.text);
      assert.deepEqual(out.json, { signedIn: false });
      assert.match(setCookie(out), /^inlet_session=; .*Max-Age=0/);
      for (const path of ['/api/sources', '/api/session', '/metrics']) {
        const reply = await withSession(inlet.adminUrl, copied, path);
        assert.equal(reply.status, 401, `${path}: ${reply.text}`);
        assert.equal(reply.json?.code, 'INLET_SESSION_EXPIRED');
      }
      assert.equal((await signOut(inlet.adminUrl, copied)).status, 401, 'signing out twice: the session is already gone');
      assert.equal((await withSession(inlet.adminUrl, other, '/api/sources')).status, 200, 'only that session ended');

      // Recorded in the store, not in this process: a restart on the same data still refuses it.
      await inlet.close();
      inlet = await startInlet({ dataDir });
      assert.equal((await withSession(inlet.adminUrl, copied)).status, 401);
      assert.equal((await withSession(inlet.adminUrl, other)).status, 200);
    } finally {
      await inlet?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('signing out with instances sharing PostgreSQL', { skip: postgres.skip }, () => {
  const schema = `inlet_test_${randomBytes(6).toString('hex')}`;
  const dirs: string[] = [];
  const servers: RunningServer[] = [];
  const relays: TcpRelay[] = [];
  let a: RunningServer;
  let b: RunningServer;
  let token: string;

  async function instance(connectionString = postgres.value!): Promise<RunningServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-session-pg-'));
    dirs.push(dataDir);
    const config = configWith({ port: 0, host: '127.0.0.1', admin: { host: '127.0.0.1', port: 0 }, dataDir, logLevel: 'silent', databaseUrl: connectionString });
    // Sources (and the admin token, and ended sessions) on this run's own schema.
    const sources = await PostgresSourceStore.open({ connectionString, schema, logger: { warn: () => {} }, connectTimeoutMs: 300, queryTimeoutMs: 300 });
    const server = await startServer(config, { sources });
    servers.push(server);
    return server;
  }

  before(async () => {
    a = await instance();
    b = await instance();
    token = (a.adminToken ?? b.adminToken)!;
  });

  after(async () => {
    for (const server of servers) await server.close().catch(() => {});
    for (const relay of relays) await relay.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    if (postgres.value) {
      await dropSchemas(postgres.value, schema);
    }
  });

  test('after sign-out on one instance the same cookie gets 401 on a second instance at once, and its live stream there ends', { timeout: 20_000 }, async () => {
    const cookie = await signedIn(a.admin.url, token);
    const other = await signedIn(a.admin.url, token);
    assert.equal((await withSession(b.admin.url, cookie, '/api/sources')).status, 200, 'a session made on A works on B');
    const live = await openSse(b.admin.url, '/api/live', { cookie });
    assert.equal(live.status, 200);

    assert.equal((await signOut(a.admin.url, cookie)).status, 200);
    for (const server of [a, b]) {
      const reply = await withSession(server.admin.url, cookie, '/api/sources');
      assert.equal(reply.status, 401, reply.text);
      assert.equal(reply.json?.code, 'INLET_SESSION_EXPIRED');
    }
    assert.equal((await withSession(b.admin.url, other, '/api/sources')).status, 200, 'only that session ended');
    // The stream checks its session again every 2 s.
    const ended = await Promise.race([live.text().then(() => true), new Promise((r) => setTimeout(() => r(false), 6000))]);
    live.close();
    assert.equal(ended, true, 'the live stream opened with the session on B was ended');
  });

  test('while PostgreSQL is unreachable a session keeps working (console and /metrics), one signed out stays refused, and a sign-out is 503 with the session kept', { timeout: 60_000 }, async () => {
    const target = new URL(postgres.value!);
    const relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) });
    relays.push(relay);
    const viaRelay = new URL(postgres.value!);
    viaRelay.port = String(relay.port);
    const c = await instance(viaRelay.href);
    // A stopped database (connections refused) and a partition (silence).
    for (const mode of ['refuse', 'blackhole'] as const) {
      const endedHere = await signedIn(c.admin.url, token);
      const endedOnA = await signedIn(a.admin.url, token);
      const working = await signedIn(c.admin.url, token);
      assert.equal((await signOut(c.admin.url, endedHere)).status, 200);
      assert.equal((await signOut(a.admin.url, endedOnA)).status, 200);
      assert.equal((await withSession(c.admin.url, endedOnA)).status, 401, `${mode}: C has read that A ended it`);

      await relay.cut(mode);
      assert.equal((await withSession(c.admin.url, working)).status, 200, `${mode}: the session goes on through the outage`);
      assert.equal((await withSession(c.admin.url, working, '/metrics')).status, 200, `${mode}: /metrics with it too`);
      for (const cookie of [endedHere, endedOnA]) assert.equal((await withSession(c.admin.url, cookie)).status, 401, `${mode}: a session C knows ended stays ended`);

      const refused = await signOut(c.admin.url, working);
      assert.equal(refused.status, 503, `${mode}: ${refused.text}`);
      assert.equal(refused.json?.code, 'INLET_SOURCE_STORE_UNAVAILABLE');
      assert.equal(refused.headers['set-cookie'], undefined, `${mode}: the cookie is kept, so signing out can be tried again`);
      assert.equal((await withSession(c.admin.url, working)).status, 200);

      await relay.heal();
      assert.equal((await signOut(c.admin.url, working)).status, 200, `${mode}: signed out once the database is back`);
      assert.equal((await withSession(c.admin.url, working)).status, 401);
      assert.equal((await withSession(a.admin.url, working)).status, 401);
    }
  });

  test('an entry expires with its cookie: the next sign-out prunes it (PostgreSQL)', async () => {
    const store = await PostgresSourceStore.open({ connectionString: postgres.value!, schema, logger: { warn: () => {} } });
    try {
      const now = Date.now();
      await store.endSession('expiring', now + 1000, now);
      assert.equal(await store.sessionEnded('expiring'), true);
      await store.endSession('later', now + 60_000, now + 1000);
      assert.equal(await store.sessionEnded('expiring'), false, 'pruned once its cookie expired');
      assert.equal(await store.sessionEnded('later'), true);
      const client = new pg.Client({ connectionString: postgres.value });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".inlet_ended_sessions WHERE expires_at <= $1`, [new Date(now + 1000)]);
        assert.equal(Number(rows[0].n), 0, 'no expired entry is left');
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });
});

test('an entry expires with its cookie: the next sign-out prunes it (embedded store)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-session-prune-'));
  const store = new SqliteSourceStore(dataDir);
  try {
    const now = Date.now();
    await store.endSession('expiring', now + 1000, now);
    await store.endSession('expiring', now + 1000, now);
    assert.equal(await store.sessionEnded('expiring'), true, 'recorded (twice is not an error)');
    await store.endSession('later', now + 60_000, now + 1000);
    assert.equal(await store.sessionEnded('expiring'), false, 'pruned once its cookie expired');
    assert.equal(await store.sessionEnded('later'), true);
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the signed-out sessions an instance remembers for an outage are bounded; the newest are kept', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-session-bound-'));
  const store = new SqliteSourceStore(dataDir);
  try {
    const ended = new EndedSessions(store);
    const expiresAtMs = Date.now() + 60_000;
    for (let i = 0; i <= MAX_REMEMBERED_ENDED; i++) await ended.end({ nonce: `n${i}`, expiresAtMs });
    assert.equal(ended.remembered, MAX_REMEMBERED_ENDED);
    assert.equal(await ended.has({ nonce: `n${MAX_REMEMBERED_ENDED}`, expiresAtMs }), true);
    assert.equal(await ended.has({ nonce: 'n0', expiresAtMs }), true, 'the oldest, forgotten here, is still read from the store');
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
