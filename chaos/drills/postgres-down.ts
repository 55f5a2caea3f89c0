// PostgreSQL (the source store) refused, then silent, under load: a key the server has cached
// keeps working, and so the server stays ready; an uncached one gets a prompt 503 with Retry-After
// (not 401, not a hang); once the database is back, the uncached key works.
import { randomUUID } from 'node:crypto';
import type { CutMode } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { checkAcknowledgedStored, ReadinessWatch, seconds, sleep, waitFor } from '../lib/measure.ts';
import { drillDatabase, postOne, type Reply } from '../lib/postgres.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, ServerUnderTest } from '../lib/servers.ts';

export const postgresDown: Drill = {
  name: 'postgres-down',
  title: 'PostgreSQL (sources) refused, then silent, under load',
  description: 'Sources live in a PostgreSQL database of the drill\'s own, reached through a TCP relay; the drill '
    + 'load (one write key, cached by the server) runs against `inlet serve` (embedded sink). The relay is cut '
    + 'twice for 20 s (quick: 4 s): first refusing connections (a stopped database), then accepting them and '
    + 'forwarding nothing (a partition). During each outage a never-used key (a fresh one each time) and an unknown '
    + 'key are tried every second. The PostgreSQL outage is emulated at the TCP level; the server\'s client, pool and '
    + 'timeouts are real. Recovery: from the relay being restored to the first 200 for the never-used key.',
  needs: ['postgres'],
  async run(ctx) {
    const db = await drillDatabase(ctx);
    const dataDir = ctx.tmpdir('postgres-down');
    const env = { INLET_DATA_DIR: dataDir, DATABASE_URL: db.url };
    const cachedKey = await createSource(env, 'cached');
    // A key of its own for each outage: one that worked after the first would be cached by the second.
    const neverUsed = { refuse: await createSource(env, 'unused-1'), blackhole: await createSource(env, 'unused-2') };
    const server = await ServerUnderTest.start(ctx, env);
    const readiness = new ReadinessWatch(() => server.url);
    ctx.defer(() => readiness.stop());
    const load = drillLoad(() => server.url, cachedKey, 'pd-');
    const during: Record<CutMode, Reply[]> = { refuse: [], blackhole: [] };
    const windows: { from: number; to: number }[] = [];
    const recovered: boolean[] = [];
    try {
      await waitFor('the load is acknowledged', () => load.acknowledged.size > 0, 30_000, 20);
      await sleep(ctx.quick ? 1000 : 5000);
      for (const mode of ['refuse', 'blackhole'] as const) {
        await db.relay.cut(mode);
        const from = performance.now();
        ctx.log(`PostgreSQL cut (${mode})`);
        while (performance.now() - from < (ctx.quick ? 4000 : 20_000)) {
          const tried = await Promise.all([postOne(server.url, neverUsed[mode], randomUUID()), postOne(server.url, `wk_unknown_${randomUUID()}`, randomUUID())]);
          during[mode].push(...tried);
          await sleep(1000);
        }
        const to = performance.now();
        windows.push({ from, to });
        await db.relay.heal();
        const healedAt = performance.now();
        let back = false;
        while (!back && performance.now() - healedAt < 60_000) {
          back = (await postOne(server.url, neverUsed[mode], randomUUID())).status === 200;
          if (!back) await sleep(250);
        }
        if (back) ctx.measured.recoveryMs.push(performance.now() - healedAt);
        recovered.push(back);
        ctx.log(`PostgreSQL back; the never-used key ${back ? 'works' : 'still fails'}`);
        await sleep(ctx.quick ? 1000 : 5000);
      }
    } finally {
      await load.stop();
      await readiness.stop();
    }
    checkAcknowledgedStored(ctx, load, embeddedIds(dataDir), 'pd-');
    const refusedDuring = [...load.statuses].filter(([s]) => s !== 200).reduce((n, [, c]) => n + c, 0);
    ctx.check({ name: 'the cached key keeps getting 200 while PostgreSQL is down', ok: refusedDuring === 0, detail: refusedDuring ? `${refusedDuring} requests with it were refused` : `all ${load.statuses.get(200) ?? 0} requests got 200` });
    for (const mode of ['refuse', 'blackhole'] as const) {
      const replies = during[mode];
      const good = replies.filter((r) => r.status === 503 && Number(r.retryAfter) >= 1 && r.ms <= 5000);
      const slowest = Math.max(0, ...replies.map((r) => r.ms));
      const seen = [...new Set(replies.map((r) => String(r.status)))].join(', ');
      ctx.check({
        name: `an uncached or unknown key gets 503 with Retry-After within 5 s while PostgreSQL is ${mode === 'refuse' ? 'refusing' : 'silent'}`,
        ok: replies.length > 0 && good.length === replies.length,
        detail: `${good.length} of ${replies.length} did (statuses ${seen}; slowest ${seconds(slowest)})`,
      });
    }
    // Every instance shares the database: a 503 here would take them all out of a load balancer
    // while each still takes events from the keys it has cached.
    const readyDuring = windows.map((w) => readiness.counts(w.from, w.to));
    const unready = readyDuring.reduce((n, c) => n + c.total - c.ready, 0);
    ctx.check({ name: '/health/ready stays 200 while PostgreSQL is unreachable and the server holds a cached key', ok: unready === 0 && readyDuring.every((c) => c.total > 0), detail: `${unready} of ${readyDuring.reduce((n, c) => n + c.total, 0)} polls were not 200` });
    ctx.check({ name: 'the never-used key works once PostgreSQL is back', ok: recovered.length === 2 && recovered.every(Boolean), detail: `after ${ctx.measured.recoveryMs.map(seconds).join(' and ')}` });
    ctx.measured.notes.push(`queries through the relay: ${db.relay.queries}`);
    checkStatuses(ctx, load);
  },
};
