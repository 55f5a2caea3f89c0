// The admin listener: its own address, the admin token (made on first start, shown once, kept
// hashed, rotated from the command line), and the sources part of the admin API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { databaseFile } from '../src/db/database.ts';
import type { FastifyError } from 'fastify';
import { toInletError } from '../src/error-reply.ts';
import { DatabaseGoneError, SourceStoreUnavailableError } from '../src/errors.ts';
import { freePort, spawnInlet } from './child-server.ts';
import { adminRequest, basic, postJson, request } from './http-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

describe('the admin token', () => {
  let dataDir: string;
  before(() => { dataDir = mkdtempSync(join(tmpdir(), 'inlet-admin-token-')); });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('is made on first start and shown once (in the first-start file, its stdout being a pipe), kept only as a hash, and never logged', async () => {
    const first = await spawnInlet(dataDir, await freePort());
    let token: string;
    try {
      assert.match(first.firstStart ?? '', /admin token.*inlet_at_/i);
      token = first.adminToken!;
      assert.match(token, /^inlet_at_[A-Za-z0-9_-]{43}$/);
      const reply = await adminRequest(first.adminUrl, token, '/api/sources');
      assert.equal(reply.status, 200, reply.text);
      // A few requests that log (a wrong token, a bad body) must not put the token in the logs.
      await adminRequest(first.adminUrl, `${token}x`, '/api/sources');
      await adminRequest(first.adminUrl, token, '/api/sources', { method: 'POST', body: { name: '' } });
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    assert.ok(!first.stderr().includes(token) && !first.stdout().includes(token), 'the token is not in the logs');
    // What its reader is told to do once it has kept the token elsewhere.
    rmSync(join(dataDir, 'first-start-secrets.txt'));

    const second = await spawnInlet(dataDir, await freePort());
    try {
      assert.doesNotMatch(second.stdout(), /inlet_at_/, 'the token is not shown again');
      assert.equal((await adminRequest(second.adminUrl, token, '/api/sources')).status, 200, 'the same token works after a restart');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }

    const db = new Database(databaseFile(dataDir), { readonly: true });
    const stored = (db.prepare("SELECT value FROM settings WHERE name = 'admin_token_sha256'").get() as { value: string }).value;
    db.close();
    assert.match(stored, /^ed25519:[0-9a-f]{64}$/);
    for (const file of readdirSync(dataDir)) assert.ok(!readFileSync(join(dataDir, file)).includes(token), `${file} does not hold the token`);
  });

  test('inlet admin token --rotate prints a new token; the old one stops working within 5 s', { timeout: 30_000 }, async () => {
    const inlet = await startInlet();
    try {
      const old = inlet.adminToken!;
      assert.equal((await adminRequest(inlet.adminUrl, old, '/api/sources')).status, 200);
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'admin', 'token', '--rotate'], { env: { ...process.env, INLET_DATA_DIR: inlet.dataDir, DATABASE_URL: '' } });
      const token = /admin token: (\S+)/.exec(stdout)?.[1];
      assert.ok(token && token !== old, stdout);
      const deadline = Date.now() + 5500;
      let status = 200;
      while (Date.now() < deadline && (status = (await adminRequest(inlet.adminUrl, old, '/api/sources')).status) !== 401) await new Promise((r) => setTimeout(r, 200));
      assert.equal(status, 401, 'the old token is refused');
      assert.equal((await adminRequest(inlet.adminUrl, token, '/api/sources')).status, 200, 'the new one works');
    } finally {
      await inlet.close();
    }
  });

  test('inlet admin token without --rotate explains why it cannot show the token', async () => {
    await assert.rejects(
      promisify(execFile)(process.execPath, [BIN, 'admin', 'token'], { env: { ...process.env, INLET_DATA_DIR: dataDir } }),
      (error: { stderr: string; code: number }) => /one-way image.*cannot be shown again.*--rotate/.test(error.stderr) && error.code === 2,
    );
  });
});

describe('the admin listener', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet(); });
  after(() => inlet.close());

  test('is a separate address: the public port has no admin API and no /metrics', async () => {
    assert.notEqual(inlet.adminUrl, inlet.url);
    assert.equal((await adminRequest(inlet.url, inlet.adminToken, '/api/sources')).status, 404);
    assert.equal((await request(inlet.url, '/metrics', { method: 'GET' })).status, 404);
  });

  test('refuses a missing or wrong token, and a write key, with 401 and WWW-Authenticate; refusals are counted', async () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'INLET_ADMIN_TOKEN_REQUIRED'],
      ['Bearer nope', 'INLET_INVALID_ADMIN_TOKEN'],
      [`Bearer ${inlet.writeKey}`, 'INLET_INVALID_ADMIN_TOKEN'],
      [basic(inlet.writeKey), 'INLET_ADMIN_TOKEN_REQUIRED'],
      [`Basic ${Buffer.from(`${inlet.adminToken}:`).toString('base64')}`, 'INLET_ADMIN_TOKEN_REQUIRED'],
    ];
    for (const [authorization, code] of cases) {
      for (const path of ['/api/sources', '/api/failed', '/api/stats', '/metrics', '/no-such-route']) {
        const reply = await request(inlet.adminUrl, path, { method: 'GET', headers: authorization ? { authorization } : {} });
        assert.equal(reply.status, 401, `${path} with ${authorization}`);
        assert.equal(reply.json?.code, code);
        assert.match(String(reply.headers['www-authenticate']), /^Bearer/);
      }
    }
    const metrics = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics')).text;
    assert.match(metrics, /^inlet_admin_auth_failures_total 25$/m);
    const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    assert.ok(metrics.includes(`inlet_build_info{version="${version}",node="${process.version}"} 1`), 'which version each instance runs');
  });

  test('sources: create and rotate-key show the write key once; list, get, rename and revoke (its key then gets 401)', async () => {
    const created = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'web shop', ipPolicy: 'anonymize' } });
    assert.equal(created.status, 201, created.text);
    const source = created.json!.source as { id: string; name: string; writeKey: string; ipPolicy: string; revokedAt: null };
    assert.equal(created.headers['cache-control'], 'no-store', 'an answer with a write key is kept by no cache');
    for (const path of ['/api/sources', '/api/failed', '/api/stats']) {
      assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, path)).headers['cache-control'], 'no-store', path);
    }
    assert.match(source.writeKey, /^wk_/);
    assert.deepEqual([source.name, source.ipPolicy, source.revokedAt], ['web shop', 'anonymize', null]);
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, source.writeKey)).status, 200);

    const list = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources');
    const listed = (list.json!.sources as Record<string, unknown>[]).find((s) => s.id === source.id)!;
    assert.equal(listed.name, 'web shop');
    assert.ok(!('writeKey' in listed) && !list.text.includes(source.writeKey), 'lists do not show write keys');

    const rotated = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}/rotate-key`, { method: 'POST' });
    assert.equal(rotated.status, 200, rotated.text);
    const newKey = (rotated.json!.source as { writeKey: string }).writeKey;
    assert.match(newKey, /^wk_/);
    assert.notEqual(newKey, source.writeKey);
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, source.writeKey)).status, 401, 'the old key is refused at once on this server');
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, newKey)).status, 200, 'the new key works');
    source.writeKey = newKey;
    const got = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}`);
    assert.ok(!got.text.includes(newKey), 'get does not show the key');

    const renamed = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}`, { method: 'PATCH', body: { name: 'shop' } });
    assert.equal((renamed.json!.source as { name: string }).name, 'shop');
    assert.equal(((await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}`)).json!.source as { name: string }).name, 'shop');

    const revoked = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}/revoke`, { method: 'POST' });
    assert.equal(revoked.status, 200);
    assert.ok((revoked.json!.source as { revokedAt: string | null }).revokedAt);
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, source.writeKey)).status, 401, 'the revoked key is refused at once on this server');
    assert.equal((await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}/revoke`, { method: 'POST' })).status, 200, 'revoking again is not an error');
  });

  test('sources: unknown ids are 404 and bad bodies 400, naming the field', async () => {
    for (const [method, path, body] of [['GET', '/api/sources/src_nope', undefined], ['PATCH', '/api/sources/src_nope', { name: 'x' }], ['POST', '/api/sources/src_nope/revoke', undefined], ['POST', '/api/sources/src_nope/rotate-key', undefined]] as const) {
      const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, path, { method, body });
      assert.equal(reply.status, 404, `${method} ${path}`);
      assert.equal(reply.json?.code, 'INLET_SOURCE_NOT_FOUND');
    }
    for (const [body, field] of [[{}, 'name'], [{ name: '  ' }, 'name'], [{ name: 'x', ipPolicy: 'some' }, 'ipPolicy'], [{ name: 42 }, 'name']] as const) {
      const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.equal(reply.json?.code, 'INLET_INVALID_PARAMETER');
      assert.match(String(reply.json?.error), new RegExp(field));
    }
    const malformed = await request(inlet.adminUrl, '/api/sources', { method: 'POST', body: '{"name":', headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
  });

  test('bodies are read as JSON whatever the Content-Type says (curl -d labels them a form); a body that is not JSON is a 400 saying so', async () => {
    const post = (path: string, body: string, contentType?: string) => request(inlet.adminUrl, path, {
      method: 'POST', body, headers: { authorization: `Bearer ${inlet.adminToken}`, ...(contentType ? { 'content-type': contentType } : {}) },
    });
    for (const [contentType, name] of [['application/x-www-form-urlencoded', 'from curl -d'], ['text/plain', 'as text'], [undefined, 'unlabelled']] as const) {
      const created = await post('/api/sources', JSON.stringify({ name, kind: 'server' }), contentType);
      assert.equal(created.status, 201, `${contentType}: ${created.text}`);
      assert.deepEqual([(created.json!.source as { name: string }).name, (created.json!.source as { kind: string }).kind], [name, 'server']);
    }
    const dryRun = await post('/api/failed/replay', '{"dryRun":true}', 'application/x-www-form-urlencoded');
    assert.equal(dryRun.status, 200, dryRun.text);
    assert.equal(dryRun.json?.dryRun, true);
    for (const [body, why] of [['{"name":', /JSON/], ['name=web', /not valid JSON/], ['{"name":"p","__proto__":{"x":1}}', /__proto__/]] as const) {
      const refused = await post('/api/sources', body, 'application/x-www-form-urlencoded');
      assert.equal(refused.status, 400, `${body}: ${refused.text}`);
      assert.equal(refused.json?.code, 'INLET_MALFORMED_JSON');
      assert.match(String(refused.json?.error), why);
      assert.match(String(refused.json?.error), /it said application\/x-www-form-urlencoded/);
    }
  });

  test('a path used with the wrong method is a 405 naming the methods it takes; a path that does not exist a 404', async () => {
    const wrong = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'DELETE' });
    assert.equal(wrong.status, 405, wrong.text);
    assert.equal(wrong.json?.code, 'INLET_METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.allow, 'GET, HEAD, POST');
    const withId = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources/src_any/plan', { method: 'POST' });
    assert.equal(withId.status, 405, withId.text);
    assert.equal(withId.headers.allow, 'GET, HEAD, PUT, DELETE');
    const missing = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/nothing-here', { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json?.code, 'INLET_NOT_FOUND');
  });

  test('sources: a name taken is a 409 and one too long a 400, on create and on rename', async () => {
    const create = (name: string) => adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name } });
    const first = await create('taken');
    assert.equal(first.status, 201, first.text);
    const other = (await create('other')).json!.source as { id: string };
    const rename = (name: string) => adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${other.id}`, { method: 'PATCH', body: { name } });
    for (const reply of [await create('taken'), await rename('taken')]) {
      assert.equal(reply.status, 409, reply.text);
      assert.equal(reply.json?.code, 'INLET_SOURCE_NAME_TAKEN');
      assert.match(String(reply.json?.error), /"taken" already exists/);
    }
    for (const reply of [await create('n'.repeat(101)), await rename('n'.repeat(150))]) {
      assert.equal(reply.status, 400, reply.text);
      assert.equal(reply.json?.code, 'INLET_INVALID_PARAMETER');
      assert.match(String(reply.json?.error), /at most 100 characters/);
    }
  });
});

test('METRICS_ON_PUBLIC_PORT=true also serves /metrics on the public port', async () => {
  const inlet = await startInlet({ metricsOnPublicPort: true });
  try {
    const reply = await request(inlet.url, '/metrics', { method: 'GET' });
    assert.equal(reply.status, 200);
    assert.match(reply.text, /^# TYPE inlet_events_total counter$/m);
  } finally {
    await inlet.close();
  }
});

test('a database file gone under the server is a 503 that says so (a restart helps, a retry does not), in the catalogue', () => {
  const answer = toInletError(new DatabaseGoneError('the database file /x/inlet.db was deleted, moved or replaced while the server ran: writes are refused until the server is restarted') as unknown as FastifyError);
  assert.deepEqual([answer?.statusCode, answer?.code, answer?.retryAfter], [503, 'INLET_DATABASE_GONE', undefined]);
  assert.match(answer!.message, /refused until the server is restarted/);
});

test('a source store that cannot be reached is a 503 to retry, in the catalogue, not a 500', () => {
  const answer = toInletError(new SourceStoreUnavailableError('connect ECONNREFUSED') as unknown as FastifyError);
  assert.equal(answer?.statusCode, 503);
  assert.equal(answer?.code, 'INLET_SOURCE_STORE_UNAVAILABLE');
  assert.ok((answer?.retryAfter ?? 0) > 0);
  assert.doesNotMatch(answer!.message, /ECONNREFUSED/, 'the cause stays in the log, not the answer');
});
