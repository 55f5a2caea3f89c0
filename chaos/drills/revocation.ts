// `inlet sources revoke` while two servers use the key: both should refuse it within 5 s.
import { randomUUID } from 'node:crypto';
import { createSourceWithCli, inletCli } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { addStatuses, seconds, sleep } from '../lib/measure.ts';
import { drillDatabase, postOne } from '../lib/postgres.ts';
import { ServerUnderTest } from '../lib/servers.ts';

export const revocation: Drill = {
  name: 'revocation',
  title: 'a revoked key on two running servers',
  description: 'Two `inlet serve` instances share sources in PostgreSQL. A key is used on both (so both have it '
    + 'cached), then revoked with `inlet sources revoke` from the command line. Each instance is tried every '
    + '250 ms for 20 s (quick: 6 s); each should answer 401 within 5 s of the revocation. Recovery: revocation '
    + 'to the first 401, per instance.',
  needs: ['postgres'],
  async run(ctx) {
    const db = await drillDatabase(ctx);
    const env = (n: number) => ({ INLET_DATA_DIR: ctx.tmpdir(`revocation-${n}`), DATABASE_URL: db.url });
    const source = await createSourceWithCli(env(0), 'to-revoke');
    const servers = [await ServerUnderTest.start(ctx, env(1)), await ServerUnderTest.start(ctx, env(2))];
    const statuses = new Map<number | string, number>();
    const count = (s: number | string) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    const before: (number | string)[] = [];
    for (const server of servers) before.push((await postOne(server.url, source.writeKey, randomUUID())).status);
    for (const status of before) count(status);
    await inletCli(['sources', 'revoke', source.id], env(0));
    const revokedAt = performance.now();
    const refusedAfter: (number | undefined)[] = servers.map(() => undefined);
    while (performance.now() - revokedAt < (ctx.quick ? 6000 : 20_000) && refusedAfter.some((t) => t === undefined)) {
      await Promise.all(servers.map(async (server, i) => {
        if (refusedAfter[i] !== undefined) return;
        const reply = await postOne(server.url, source.writeKey, randomUUID());
        count(reply.status);
        if (reply.status === 401) refusedAfter[i] = performance.now() - revokedAt;
      }));
      await sleep(250);
    }
    addStatuses(ctx.measured, statuses);
    for (const t of refusedAfter) if (t !== undefined) ctx.measured.recoveryMs.push(t);
    const waited = seconds(performance.now() - revokedAt);
    ctx.check({
      name: 'a revoked key gets 401 on every running instance within 5 s',
      ok: refusedAfter.every((t) => t !== undefined && t <= 5000),
      detail: refusedAfter.map((t, i) => `instance ${i + 1}: ${t === undefined ? `still accepted it after ${waited}` : `401 after ${seconds(t)}`}`).join('; '),
    });
    ctx.check({ name: 'the key worked on both before it was revoked', ok: before.every((s) => s === 200), detail: `they answered ${before.join(' and ')}` });
  },
};
