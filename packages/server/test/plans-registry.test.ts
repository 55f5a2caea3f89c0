// The per-instance plan registry over a real embedded store: plans compiled once per version,
// a bounded cache, and what happens while the store cannot be reached.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceStoreUnavailableError } from '../src/errors.ts';
import { checkPlan, type TrackingPlan } from '../src/plans/plan.ts';
import type { PlanStore } from '../src/plans/plan-store.ts';
import { PlanRegistry } from '../src/plans/registry.ts';
import { SqliteSourceStore } from '../src/sources/sqlite-store.ts';

/** The real store, counting reads of plan documents, and able to be "down". */
function watched(store: PlanStore): PlanStore & { gets: number; down: boolean } {
  const w = {
    gets: 0,
    down: false,
    put: store.put.bind(store),
    history: store.history.bind(store),
    delete: store.delete.bind(store),
    async get(sourceId: string, version?: number) {
      if (w.down) throw new SourceStoreUnavailableError('down');
      w.gets++;
      return store.get(sourceId, version);
    },
    async heads() {
      if (w.down) throw new SourceStoreUnavailableError('down');
      return store.heads();
    },
  };
  return w;
}

const plan = (description: string): TrackingPlan => checkPlan({ description, events: { A: { properties: { type: 'object', required: ['x'] } } } });
const json = (p: TrackingPlan) => JSON.stringify(p);

describe('the plan registry', () => {
  let dir: string;
  let sources: SqliteSourceStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'inlet-plan-registry-'));
    sources = new SqliteSourceStore(dir);
  });
  after(async () => {
    await sources.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('loads each version once, concurrent first lookups sharing the load; a source without a plan costs no read', async () => {
    const store = watched(sources.plans);
    await store.put('src_a', plan('one'), json(plan('one')));
    const registry = new PlanRegistry(store, { refreshMs: 60_000 });
    await registry.start();
    try {
      assert.equal(registry.lookup('src_none'), undefined);
      const [first, second] = await Promise.all([registry.lookup('src_a'), registry.lookup('src_a')]);
      assert.equal(first, second);
      assert.equal(first?.version, 1);
      assert.equal(registry.lookup('src_a'), first, 'then straight from the cache, not a promise');
      assert.equal(store.gets, 1);

      await store.put('src_a', plan('two'), json(plan('two')));
      await registry.refresh();
      const next = await registry.lookup('src_a');
      assert.equal(next?.version, 2);
      assert.equal(store.gets, 2);
    } finally {
      registry.close();
    }
  });

  test('past its byte bound the least recently used plan is dropped, and loaded again when needed', async () => {
    const store = watched(sources.plans);
    for (const id of ['src_b1', 'src_b2', 'src_b3']) await store.put(id, plan(id), json(plan(id)));
    const bytes = Buffer.byteLength(json(plan('src_b1')));
    const registry = new PlanRegistry(store, { refreshMs: 60_000, maxCachedBytes: bytes * 2 });
    await registry.start();
    try {
      await registry.lookup('src_b1');
      await registry.lookup('src_b2');
      assert.ok(!(registry.lookup('src_b1') instanceof Promise), 'both fit');
      await registry.lookup('src_b3'); // b2 is now the least recently used
      assert.equal(store.gets, 3);
      assert.ok(!(registry.lookup('src_b1') instanceof Promise));
      assert.ok(registry.lookup('src_b2') instanceof Promise, 'dropped: loaded again');
    } finally {
      registry.close();
    }
  });

  test('while the store is down, the last known heads and compiled plans stay in force; a plan never loaded is a SourceStoreUnavailableError (503)', async () => {
    const store = watched(sources.plans);
    await store.put('src_c1', plan('c1'), json(plan('c1')));
    await store.put('src_c2', plan('c2'), json(plan('c2')));
    const registry = new PlanRegistry(store, { refreshMs: 60_000 });
    await registry.start();
    try {
      const known = await registry.lookup('src_c1');
      store.down = true;
      await registry.refresh();
      assert.equal(registry.lookup('src_c1'), known);
      await assert.rejects(async () => registry.lookup('src_c2'), SourceStoreUnavailableError);
      store.down = false;
      await registry.refresh();
      assert.equal((await registry.lookup('src_c2'))?.version, 1);
    } finally {
      registry.close();
    }
  });

  test('a version applied here is used at once, even when a poll that started before it ends after it', async () => {
    const store = watched(sources.plans);
    const registry = new PlanRegistry(store, { refreshMs: 60_000 });
    await registry.start();
    try {
      const polling = registry.refresh();
      const stored = await store.put('src_d', plan('d'), json(plan('d')));
      registry.applied('src_d', stored.version);
      await polling;
      assert.equal((await registry.lookup('src_d'))?.version, 1);
      await store.delete('src_d');
      registry.applied('src_d', undefined);
      assert.equal(registry.lookup('src_d'), undefined);
    } finally {
      registry.close();
    }
  });
});
