// Unknown write keys from one address: they should be rate-limited, not each cost a PostgreSQL query.
import { floodWithRandomKeys } from '../lib/attacks.ts';
import type { Drill } from '../lib/drill.ts';
import { addStatuses, seconds } from '../lib/measure.ts';
import { drillDatabase } from '../lib/postgres.ts';
import { createSource, ServerUnderTest } from '../lib/servers.ts';

export const unknownKeys: Drill = {
  name: 'unknown-keys',
  title: 'unknown write keys from one address: rate-limited?',
  description: 'Sources live in PostgreSQL behind a relay that counts the queries passing through it. One '
    + 'client address sends 5,000 requests (quick: 1,000), 16 at a time, each with a different unknown write '
    + 'key. The requests should start getting 429 (limited per client address) well before each one has cost '
    + 'a database query.',
  needs: ['postgres'],
  async run(ctx) {
    const db = await drillDatabase(ctx);
    const env = { INLET_DATA_DIR: ctx.tmpdir('unknown-keys'), DATABASE_URL: db.url };
    await createSource(env, 'real');
    const server = await ServerUnderTest.start(ctx, env);
    const total = ctx.quick ? 1000 : 5000;
    const before = db.relay.queries;
    const flood = await floodWithRandomKeys(server.url, total, 16);
    const queries = db.relay.queries - before;
    addStatuses(ctx.measured, flood.statuses);
    ctx.measured.notes.push(`${total} requests in ${seconds(flood.ms)}; PostgreSQL queries: ${queries}`);
    const limited = flood.statuses.get(429) ?? 0;
    ctx.check({
      name: `unknown keys from one address are rate-limited before each costs a query`,
      ok: limited > 0 && queries <= total / 2,
      detail: `${limited} of ${total} got 429; ${queries} PostgreSQL queries`,
    });
    const unexpected = [...flood.statuses.keys()].filter((s) => s !== 401 && s !== 429);
    ctx.check({ name: 'each gets 401 or 429, nothing else', ok: unexpected.length === 0, detail: `statuses ${JSON.stringify(Object.fromEntries(flood.statuses))}` });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
  },
};
