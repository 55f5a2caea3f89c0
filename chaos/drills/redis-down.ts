// Redis (shared rate limits) killed, then frozen, under load: rate limiting must never cost an
// event — every request keeps getting its answer, promptly, from the local fallback.
import { ChildRedis } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { checkAcknowledgedStored, seconds, sleep, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, ServerUnderTest } from '../lib/servers.ts';

export const redisDown: Drill = {
  name: 'redis-down',
  title: 'Redis (rate limits) killed, then frozen, under load',
  description: 'A private `redis-server` on a free port holds the shared rate limits (`REDIS_URL`); the drill '
    + 'load runs against `inlet serve` (embedded store). Redis gets SIGKILL and stays down 15 s (quick: 3 s), '
    + 'is started again on the same port, and later is frozen with SIGSTOP for 15 s (quick: 3 s) — a Redis '
    + 'that accepts connections and never answers — then resumed. Every request should keep getting 200 '
    + '(the limiter falls back to local limits) without waiting more than 5 s.',
  needs: ['redis-server'],
  async run(ctx) {
    const redis = await ChildRedis.start();
    ctx.defer(() => redis.kill());
    const dataDir = ctx.tmpdir('redis-down');
    const env = { INLET_DATA_DIR: dataDir, REDIS_URL: redis.url };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const load = drillLoad(() => server.url, writeKey, 'rd-');
    const outage = ctx.quick ? 3000 : 15_000;
    try {
      await waitFor('the load is acknowledged', () => load.acknowledged.size > 0, 30_000, 20);
      await sleep(ctx.quick ? 1000 : 5000);
      await redis.kill();
      ctx.log('redis killed');
      await sleep(outage);
      await redis.start();
      ctx.log('redis back');
      await sleep(ctx.quick ? 1000 : 5000);
      redis.signal('SIGSTOP');
      ctx.log('redis frozen');
      await sleep(outage);
      redis.signal('SIGCONT');
      ctx.log('redis resumed');
      await sleep(ctx.quick ? 1000 : 5000);
    } finally {
      await load.stop();
    }
    checkAcknowledgedStored(ctx, load, embeddedIds(dataDir), 'rd-');
    const answered = load.successes.map((s) => s.answeredAt);
    let gap = 0;
    for (let i = 1; i < answered.length; i++) gap = Math.max(gap, answered[i] - answered[i - 1]);
    const slowest = Math.max(0, ...load.successes.map((s) => s.answeredAt - s.sentAt));
    ctx.measured.notes.push(`longest stretch without a 200: ${seconds(gap)}; slowest 200: ${seconds(slowest)}`);
    const refused = [...load.statuses].filter(([status]) => status !== 200).map(([status, n]) => `${status}: ${n}`);
    ctx.check({ name: 'every request gets 200 while Redis is down or frozen', ok: refused.length === 0, detail: refused.length ? `also ${refused.join(', ')}` : `all ${load.statuses.get(200) ?? 0} did` });
    ctx.check({ name: 'no request waits more than 5 s for its answer', ok: slowest <= 5000 && !load.statuses.has('timeout'), detail: `slowest 200 took ${seconds(slowest)}` });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
    checkStatuses(ctx, load);
  },
};
