// A key rotated or revoked anywhere is refused by every running instance within 5 s, and stays
// refused while the source store is unreachable once an instance has learned of it. Real servers:
// the embedded store changed from the command line (another process), and two instances sharing
// PostgreSQL (their own schema; one of them through a relay the test cuts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { needPostgres, startInlet, TcpRelay } from '@inlet/testkit';
import { configWith, startServer, type RunningServer } from '../src/index.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { postJson } from './http-client.ts';
import { dropSchemas } from './pg-schemas.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');
const postgres = await needPostgres();
const schema = `inlet_test_${randomBytes(6).toString('hex')}`;

const send = async (url: string, writeKey: string) => (await postJson(url, '/v1/track', { userId: 'u', event: 'e', messageId: randomUUID() }, writeKey)).status;

/** ms until `url` answers `status` to the key, polling every 100 ms; fails after 5 s. */
async function refusedWithin5s(url: string, writeKey: string, since: number): Promise<number> {
  for (;;) {
    const status = await send(url, writeKey);
    const elapsed = performance.now() - since;
    if (status === 401) return elapsed;
    assert.ok(elapsed < 5000, `still ${status} after ${Math.round(elapsed)} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('revocation on the embedded store, from the command line', () => {
  test('sources revoke and rotate-key in another process reach the running server within 5 s', async () => {
    const inlet = await startInlet();
    try {
      const cli = (...args: string[]) => promisify(execFile)(process.execPath, [BIN, 'sources', ...args, '--data-dir', inlet.dataDir], { env: { ...process.env, DATABASE_URL: '' } });
      const web = await inlet.server.sources.create({ name: 'web' });
      const api = await inlet.server.sources.create({ name: 'api' });
      assert.equal(await send(inlet.url, web.writeKey), 200);
      assert.equal(await send(inlet.url, api.writeKey), 200);

      let started = performance.now();
      await cli('revoke', 'web');
      await refusedWithin5s(inlet.url, web.writeKey, started);

      started = performance.now();
      const { stdout } = await cli('rotate-key', 'api');
      const newKey = /write key: (wk_\S+)/.exec(stdout)![1];
      await refusedWithin5s(inlet.url, api.writeKey, started);
      assert.equal(await send(inlet.url, newKey), 200, 'the new key works');
      assert.equal(await send(inlet.url, inlet.writeKey), 200, 'other sources are untouched');
    } finally {
      await inlet.close();
    }
  });
});

describe('revocation across instances sharing PostgreSQL', { skip: postgres.skip }, () => {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];

  async function instance(connectionString: string): Promise<RunningServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-revocation-'));
    dirs.push(dataDir);
    const config = configWith({ port: 0, host: '127.0.0.1', admin: { host: '127.0.0.1', port: 0 }, dataDir, logLevel: 'silent', databaseUrl: connectionString });
    const sources = await PostgresSourceStore.open({ connectionString, schema, logger: { warn: () => {} }, connectTimeoutMs: 500, queryTimeoutMs: 500 });
    const server = await startServer(config, { sources });
    servers.push(server);
    return server;
  }

  after(async () => {
    for (const server of servers) await server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await dropSchemas(postgres.value!, schema);
  });

  test('a key revoked or rotated on one instance is refused on the other within 5 s; once learned, also while PostgreSQL is down', async () => {
    const target = new URL(postgres.value!);
    const relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) });
    try {
      const viaRelay = new URL(postgres.value!);
      viaRelay.port = String(relay.port);
      const a = await instance(postgres.value!);
      const b = await instance(viaRelay.href);
      const revoked = await a.sources.create({ name: 'revoked' });
      const rotated = await a.sources.create({ name: 'rotated' });
      const kept = await a.sources.create({ name: 'kept' });
      for (const key of [revoked.writeKey, rotated.writeKey, kept.writeKey]) {
        assert.equal(await send(a.url, key), 200);
        assert.equal(await send(b.url, key), 200, 'cached on b');
      }

      const started = performance.now();
      assert.equal(await a.sources.revoke(revoked.id), true);
      const newKey = (await a.sources.rotateKey(rotated.id))!.writeKey;
      assert.equal(await send(a.url, revoked.writeKey), 401, 'refused at once where it was revoked');
      await refusedWithin5s(b.url, revoked.writeKey, started);
      await refusedWithin5s(b.url, rotated.writeKey, started);
      assert.equal(await send(b.url, newKey), 200);

      // PostgreSQL goes away for b: what b learned stands, and what it had cached still works.
      await relay.cut('refuse');
      assert.equal(await send(b.url, revoked.writeKey), 401, 'a known revocation holds while the store is down');
      assert.equal(await send(b.url, rotated.writeKey), 401, 'a known rotation too');
      assert.equal(await send(b.url, kept.writeKey), 200, 'a key in use still works through the outage');
      assert.equal(await send(b.url, newKey), 200);
      await relay.heal();
    } finally {
      await relay.close();
    }
  });
});
