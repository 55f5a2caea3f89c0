// With PostgreSQL, every instance shares one admin token: instances starting together make one,
// and a rotation on one reaches the others within their 5 s cache.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { needPostgres, TcpRelay } from '@inlet/testkit';
import { AdminTokens, storedFormOf } from '../src/admin/token.ts';
import { SourceStoreUnavailableError } from '../src/errors.ts';
import { PostgresSourceStore } from '../src/sources/postgres-store.ts';
import { dropSchemas } from './pg-schemas.ts';

const postgres = await needPostgres();
const schema = `inlet_test_${randomBytes(6).toString('hex')}`;

describe('the admin token on PostgreSQL', { skip: postgres.skip }, () => {
  const stores: PostgresSourceStore[] = [];
  after(async () => {
    for (const store of stores) await store.close();
    await dropSchemas(postgres.value, schema);
  });

  test('instances starting together make one token; any instance accepts it, and a rotation reaches the others', { timeout: 20_000 }, async () => {
    for (let i = 0; i < 3; i++) stores.push(await PostgresSourceStore.open({ connectionString: postgres.value!, schema }));
    const tokens = stores.map((store) => new AdminTokens(store, 500));
    const made = (await Promise.all(tokens.map((t) => t.ensure()))).filter((t) => t !== undefined);
    assert.equal(made.length, 1, 'exactly one instance made (and shows) the token');
    for (const t of tokens) assert.equal(await t.verify(made[0]!), true);
    assert.equal(await tokens[1].verify(`${made[0]}x`), false);

    const rotated = await tokens[0].rotate();
    await new Promise((r) => setTimeout(r, 600));
    for (const t of tokens) {
      assert.equal(await t.verify(rotated), true);
      assert.equal(await t.verify(made[0]!), false);
    }
    const hash = await stores[2].adminTokenHash();
    assert.match(hash!, /^ed25519:[0-9a-f]{64}$/, "a one-way image of the token: its signing key's public half");
  });

  test('a stored SHA-256 moves to the public key once, compare-and-set: a rotation in between wins, and the old token signs no session', async () => {
    const store = stores[0];
    const [a, b] = [new AdminTokens(store, 60_000), new AdminTokens(store, 60_000)];
    const old = await a.rotate();
    await store.setAdminTokenHash(createHash('sha256').update(old).digest('hex'), true); // as an older Inlet stored it
    assert.equal(await b.verify(old), true, 'the old form still checks the token');
    const rotated = await a.rotate(); // another instance rotates; b's cache has the old form
    await b.upgrade(old);
    assert.equal(await store.adminTokenHash(), storedFormOf(rotated), 'the rotation stands: the upgrade did not write over it');
    assert.equal(await b.signsSessions(old), false, 'no session is signed with a token rotated away');
    assert.equal(await b.signsSessions(rotated), true);
    await store.setAdminTokenHash('ed25519:not-hex-and-too-short', true);
    assert.equal(await new AdminTokens(store).verify(rotated), false, 'a stored value of another shape refuses, it does not throw');
  });

  test('while PostgreSQL is unreachable the token last read still opens the admin API (and /metrics); a wrong one is still refused', { timeout: 20_000 }, async () => {
    const target = new URL(postgres.value!);
    const relay = await TcpRelay.start({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(postgres.value!);
    url.port = String(relay.port);
    const store = await PostgresSourceStore.open({ connectionString: url.href, schema, logger: { warn: () => undefined }, connectTimeoutMs: 300, queryTimeoutMs: 300 });
    try {
      const tokens = new AdminTokens(store, 100, 3000);
      const token = await tokens.rotate();
      assert.equal(await tokens.verify(token), true);
      for (const mode of ['refuse', 'blackhole'] as const) {
        await relay.cut(mode);
        await new Promise((r) => setTimeout(r, 150));
        assert.equal(await tokens.verify(token), true, `${mode}: the token still works`);
        assert.equal(await tokens.verify(`${token}x`), false, `${mode}: a wrong token is still refused`);
        // A console login reads afresh and fails; it must not drop what is in force for the rest.
        await assert.rejects(tokens.signsSessions(token), SourceStoreUnavailableError, `${mode}: a login needs the store`);
        assert.equal(await tokens.verify(token), true, `${mode}: still works after a login failed`);
        await relay.heal();
      }
      // Cut off from a store that is up, an instance would miss a rotation: what it last read
      // holds for staleMs (here 3 s) after the store last answered, not for ever.
      assert.equal(await tokens.verify(token), true);
      await relay.cut('refuse');
      const cutAt = Date.now();
      while (Date.now() - cutAt < 2500) {
        assert.equal(await tokens.verify(token), true, 'within staleMs');
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 1000));
      await assert.rejects(tokens.verify(token), SourceStoreUnavailableError, 'past staleMs: the store is needed again');
      await relay.heal();
      const rotated = await new AdminTokens(stores[1]).rotate();
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(await tokens.verify(rotated), true, 'once the database answers again, a rotation made meanwhile applies');
      assert.equal(await tokens.verify(token), false);
    } finally {
      await store.close();
      await relay.close();
    }
  });
});
