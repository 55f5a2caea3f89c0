// The key cache in front of a real PostgreSQL source store (its own schema, reached through a relay
// the test cuts): random keys cannot push a real key out, unknown keys are remembered within a
// bound, and a key in use keeps working through an outage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { needPostgres, startInlet, TcpRelay } from '@inlet/testkit';
import { postJson, request } from './http-client.ts';
import { SourceStoreUnavailableError } from '../src/errors.ts';
import { CachedSourceStore } from '../src/sources/cached-store.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { hashWriteKey } from '../src/sources/keys.ts';
import { dropSchemas } from './pg-schemas.ts';

const postgres = await needPostgres();
const schema = `inlet_test_${randomBytes(6).toString('hex')}`;
const randomKey = () => `wk_${randomBytes(24).toString('base64url')}`;

describe('the source cache over PostgreSQL', { skip: postgres.skip }, () => {
  let relay: TcpRelay;
  let store: PostgresSourceStore;

  before(async () => {
    const target = new URL(postgres.value!);
    relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) }, { postgres: true });
    const url = new URL(postgres.value!);
    url.port = String(relay.port);
    store = await PostgresSourceStore.open({ connectionString: url.href, schema, logger: { warn: () => undefined }, connectTimeoutMs: 500, queryTimeoutMs: 500 });
  });

  after(async () => {
    await store?.close();
    await relay?.close();
    await dropSchemas(postgres.value!, schema);
  });

  test('a flood of random keys (10x the cache) does not evict a key in use; it resolves with PostgreSQL down', async () => {
    const cache = new CachedSourceStore(store, { maxHits: 100, maxMisses: 100 });
    const real = await store.create({ name: `real-${randomBytes(3).toString('hex')}` });
    assert.equal((await cache.findByKeyHash(hashWriteKey(real.writeKey)))?.id, real.id);
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, () => cache.findByKeyHash(hashWriteKey(randomKey()))));
    await relay.cut('refuse');
    try {
      assert.equal((await cache.findByKeyHash(hashWriteKey(real.writeKey)))?.id, real.id);
      await assert.rejects(cache.findByKeyHash(hashWriteKey(randomKey())), SourceStoreUnavailableError, 'an unknown key cannot be told apart while the store is down');
    } finally {
      await relay.heal();
    }
  });

  test('an unknown key is remembered: asking again costs no query, and the misses stay within their bound', async () => {
    const cache = new CachedSourceStore(store, { maxMisses: 10 });
    const key = randomKey();
    assert.equal(await cache.findByKeyHash(hashWriteKey(key)), undefined);
    const before = relay.queries;
    for (let i = 0; i < 20; i++) assert.equal(await cache.findByKeyHash(hashWriteKey(key)), undefined);
    assert.equal(relay.queries, before, 'answered from the negative cache');
    for (let i = 0; i < 30; i++) await cache.findByKeyHash(hashWriteKey(randomKey()));
    const again = relay.queries;
    await cache.findByKeyHash(hashWriteKey(key));
    assert.equal(relay.queries, again + 1, 'pushed out of the 10-entry miss cache by newer misses, so asked again');
  });

  test('a found key past its time is served stale while the store is down, and looked up again once it is back', async () => {
    const cache = new CachedSourceStore(store, { hitTtlMs: 50 });
    const real = await store.create({ name: `stale-${randomBytes(3).toString('hex')}` });
    await cache.findByKeyHash(hashWriteKey(real.writeKey));
    await new Promise((r) => setTimeout(r, 100));
    await relay.cut('refuse');
    try {
      assert.equal((await cache.findByKeyHash(hashWriteKey(real.writeKey)))?.id, real.id);
    } finally {
      await relay.heal();
    }
    const before = relay.queries;
    assert.equal((await cache.findByKeyHash(hashWriteKey(real.writeKey)))?.id, real.id);
    assert.equal(relay.queries, before + 1);
  });

  test('a key revoked elsewhere that this instance never looked up is refused as revoked, not as unknown', async () => {
    // (polled by hand below; its own timer would not come round within the test)
    const cache = new CachedSourceStore(store, { pollMs: 3_600_000 });
    await cache.watch();
    const source = await store.create({ name: `revoked-elsewhere-${randomBytes(3).toString('hex')}` });
    assert.equal(await store.revoke(source.id), true);
    await cache.poll();
    // The store's copy is read once, right after the change is learned.
    let found = await cache.findByKeyHash(hashWriteKey(source.writeKey));
    for (let i = 0; i < 50 && found === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      found = await cache.findByKeyHash(hashWriteKey(source.writeKey));
    }
    assert.equal(found?.id, source.id);
    assert.ok(found?.revokedAt, 'the source comes back revoked');
  });

  test('a server whose PostgreSQL is unreachable stays ready while it holds cached keys (every instance shares that database), saying the store is not; with nothing cached it is not ready', { timeout: 30_000 }, async () => {
    // A schema of its own: the server makes its default source in an empty one.
    const own = `inlet_test_${randomBytes(6).toString('hex')}`;
    const url = new URL(postgres.value!);
    url.port = String(relay.port);
    const inlet = await startInlet({}, { sources: await PostgresSourceStore.open({ connectionString: url.href, schema: own, logger: { warn: () => undefined }, connectTimeoutMs: 500, queryTimeoutMs: 500 }) });
    const health = async () => {
      const reply = await request(inlet.url, '/health/ready', { method: 'GET' });
      return { status: reply.status, sources: (reply.json as { sources: Record<string, unknown> }).sources };
    };
    try {
      await relay.cut('refuse');
      try {
        assert.deepEqual(await health(), { status: 503, sources: { kind: 'postgres', ready: false } }, 'no key cached yet: nothing it could take');
      } finally {
        await relay.heal();
      }
      // A revoked key in use (an old SDK) is cached too, and is nothing this instance can take.
      const revoked = await inlet.server.sources.create({ name: 'revoked-in-use' });
      await inlet.server.sources.revoke(revoked.id);
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'revoked' }, revoked.writeKey)).status, 401);
      await relay.cut('refuse');
      try {
        assert.equal((await health()).status, 503, 'a revoked key cached is not a key served');
      } finally {
        await relay.heal();
      }
      assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'ready test' }, inlet.writeKey)).status, 200);
      for (const mode of ['refuse', 'blackhole'] as const) {
        await relay.cut(mode);
        try {
          assert.deepEqual(await health(), { status: 200, sources: { kind: 'postgres', ready: false, servingCachedKeys: true } }, mode);
          assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'during' }, inlet.writeKey)).status, 200, `${mode}: the cached key still works`);
        } finally {
          await relay.heal();
        }
      }
      assert.deepEqual(await health(), { status: 200, sources: { kind: 'postgres', ready: true } });
    } finally {
      await inlet.close();
      await dropSchemas(postgres.value!, own);
    }
  });
});
