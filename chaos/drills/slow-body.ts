// Requests that never finish arriving — a chunked body that never ends, 500 KB at one byte a
// second, headers that never end — must be cut off within a bound, while other clients are served.
import type { Drill } from '../lib/drill.ts';
import { attackOutcome, neverEndingChunked, slowHeaders, trickle, waitForAttackers, type Attacker } from '../lib/attacks.ts';
import { checkAcknowledgedStored, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, FULL_BOUNDS, QUICK_BOUNDS, ServerUnderTest } from '../lib/servers.ts';

export const slowBody: Drill = {
  name: 'slow-body',
  title: 'never-ending chunked bodies, 500 KB at 1 byte/s, never-ending headers',
  description: 'Against `inlet serve` (embedded store), with a light canary load (one client, 10-event batches, '
    + '20 requests/s) running, three kinds of attacker open 10 connections each (quick: 3), all with a valid '
    + 'write key: a chunked body that sends a 1-byte chunk every second and never ends; a body declared as '
    + '500 KB sent at 1 byte a second; request headers that gain one line a second and never end. The drill '
    + 'waits up to 45 s (quick: 6 s, with the hardening\'s timeouts set to 2 s) for the server to answer or '
    + 'close each one. The full suite runs the server with its default settings, so it measures the defaults.',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('slow-body');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const canary = drillLoad(() => server.url, writeKey, 'sb-', { clients: 1, batchSize: 10, requestsPerSecond: 20 });
    const perKind = ctx.quick ? 3 : 10;
    const bound = ctx.quick ? QUICK_BOUNDS.body : FULL_BOUNDS.body;
    const kinds: Record<string, Attacker[]> = { 'a chunked body that never ends': [], 'a 500 KB body sent at 1 byte/s': [], 'request headers that never end': [] };
    ctx.defer(() => { for (const list of Object.values(kinds)) for (const a of list) a.stop(); });
    try {
      await waitFor('the canary is acknowledged', () => canary.acknowledged.size > 0, 30_000, 20);
      for (let i = 0; i < perKind; i++) {
        kinds['a chunked body that never ends'].push(neverEndingChunked(server.port, writeKey));
        kinds['a 500 KB body sent at 1 byte/s'].push(trickle(server.port, writeKey));
        kinds['request headers that never end'].push(slowHeaders(server.port));
      }
      await waitForAttackers(Object.values(kinds).flat(), bound);
    } finally {
      await canary.stop();
    }
    checkAcknowledgedStored(ctx, canary, embeddedIds(dataDir), 'sb-', 'no acknowledged canary event is lost');
    for (const [kind, attackers] of Object.entries(kinds)) {
      const outcome = attackOutcome(attackers, bound);
      ctx.check({
        name: `${kind}: the server answers or cuts it off within ${bound / 1000} s`,
        ok: outcome.ended === attackers.length,
        detail: outcome.text,
      });
    }
    ctx.check({ name: 'the server stays up and keeps serving others', ok: server.running() && !canary.statuses.has('timeout'), detail: `canary statuses ${JSON.stringify(Object.fromEntries(canary.statuses))}` });
    checkStatuses(ctx, canary);
  },
};
