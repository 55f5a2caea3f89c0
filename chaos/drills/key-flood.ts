// A flood of random write keys, then PostgreSQL down: the flood must not have pushed a real,
// recently used key out of the server's key cache (it would then get 503 through the outage).
import { PostgresSourceStore } from '../../packages/server/src/sources/postgres-store.ts';
import { CachedSourceStore } from '../../packages/server/src/sources/cached-store.ts';
import { floodWithRandomKeys, randomKey } from '../lib/attacks.ts';
import type { Drill, DrillContext } from '../lib/drill.ts';
import { addStatuses, checkAcknowledgedStored, seconds, sleep, waitFor } from '../lib/measure.ts';
import { drillDatabase, postOne } from '../lib/postgres.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, ServerUnderTest } from '../lib/servers.ts';
import { hashWriteKey } from '../../packages/server/src/sources/keys.ts';

/**
 * The quick form: the same sequence against the server's own key cache (CachedSourceStore) on the
 * drill's PostgreSQL, sized down to 1,000 found and 1,000 unknown keys so that 1,100 random keys
 * are enough. The server's cache holds 100,000 found keys and has no setting; flooding it takes minutes.
 */
async function quickForm(ctx: DrillContext): Promise<void> {
  const db = await drillDatabase(ctx);
  const store = await PostgresSourceStore.open({ connectionString: db.url, logger: { warn: () => undefined } });
  ctx.defer(() => store.close());
  const cache = new CachedSourceStore(store, { maxHits: 1000, maxMisses: 1000 });
  const real = await store.create({ name: 'real' });
  await cache.findByKeyHash(hashWriteKey(real.writeKey));
  for (let i = 0; i < 1100; i += 50) await Promise.all(Array.from({ length: 50 }, () => cache.findByKeyHash(hashWriteKey(randomKey()))));
  await db.relay.cut('refuse');
  const found = await cache.findByKeyHash(hashWriteKey(real.writeKey)).then((s) => (s ? 'found' : 'unknown'), (e: Error) => e.name);
  ctx.check({
    name: 'a real key in use still resolves with PostgreSQL down after a flood of random keys (1,000-entry caches, 1,100 keys)',
    ok: found === 'found',
    detail: found === 'found' ? 'it did' : `the lookup gave ${found}: the flood evicted it`,
  });
}

export const keyFlood: Drill = {
  name: 'key-flood',
  title: '110,000 random write keys, then PostgreSQL down',
  description: 'Sources live in PostgreSQL (a database of the drill\'s own behind a relay). A client uses a real '
    + 'write key for 3 s (10 batches/s). Then 110,000 requests come with random write keys (32 at a time, one '
    + 'client address, with the per-address limit on requests without a valid key lifted, so each reaches the key cache) — more than the server\'s 100,000-entry key cache — and right after them PostgreSQL is '
    + 'cut: the real key, used a minute or so before, is tried five times and should still work. Quick form (npm test): the '
    + 'same sequence against the server\'s key cache class itself, sized to 1,000 found and 1,000 unknown keys, on the real '
    + 'PostgreSQL (the server has no setting for the cache size, and 110,000 requests take a minute or two here).',
  needs: ['postgres'],
  async run(ctx) {
    if (ctx.quick) return quickForm(ctx);
    const db = await drillDatabase(ctx);
    const dataDir = ctx.tmpdir('key-flood');
    // The per-address limit for requests without a valid key (drill unknown-keys) is lifted here, so
    // that every random key reaches the key cache: this drill is about the cache.
    const env = { INLET_DATA_DIR: dataDir, DATABASE_URL: db.url, UNAUTHENTICATED_RATE_PER_SECOND: '1000000', UNAUTHENTICATED_BURST: '1000000' };
    const writeKey = await createSource(env, 'real');
    const server = await ServerUnderTest.start(ctx, env);
    const canary = drillLoad(() => server.url, writeKey, 'kf-', { clients: 1, batchSize: 10, requestsPerSecond: 10 });
    const probes: (number | string)[] = [];
    try {
      await waitFor('the canary is acknowledged', () => canary.acknowledged.size > 0, 30_000, 20);
      await sleep(3000);
    } finally {
      await canary.stop();
    }
    try {
      const queriesBefore = db.relay.queries;
      const flood = await floodWithRandomKeys(server.url, 110_000, 32);
      addStatuses(ctx.measured, flood.statuses);
      ctx.measured.notes.push(`flood: 110,000 requests in ${seconds(flood.ms)} (${Math.round(110_000 / (flood.ms / 1000))}/s), ${db.relay.queries - queriesBefore} PostgreSQL queries`);
      const unexpected = [...flood.statuses.keys()].filter((s) => s !== 401 && s !== 429);
      ctx.check({ name: 'every random key is refused with 401 (or 429), nothing else', ok: unexpected.length === 0, detail: `statuses ${JSON.stringify(Object.fromEntries(flood.statuses))}` });
      await db.relay.cut('refuse');
      for (let i = 0; i < 5; i++) {
        probes.push((await postOne(server.url, writeKey, `probe-${i}`)).status);
        await sleep(200);
      }
    } finally {
      await db.relay.heal();
    }
    for (const status of probes) canary.statuses.set(status, (canary.statuses.get(status) ?? 0) + 1);
    checkAcknowledgedStored(ctx, canary, embeddedIds(dataDir), 'kf-', 'no acknowledged canary event is lost');
    ctx.check({
      name: 'a real key in use still works with PostgreSQL down after a flood of 110,000 random keys',
      ok: probes.every((s) => s === 200),
      detail: `its requests got ${probes.join(', ')}`,
    });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
    checkStatuses(ctx, canary);
  },
};
