// Thousands of connections each send most of a large body and stall: the server must not hold
// all of it (memory bounded), and what it held must come back once they leave.
import type { Drill } from '../lib/drill.ts';
import { fillerBody, stalledBody, type Attacker } from '../lib/attacks.ts';
import { checkAcknowledgedStored, mb, sleep, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, ServerUnderTest } from '../lib/servers.ts';

const KB = 1024;
const MB = 1024 * KB;

export const stalledBodies: Drill = {
  name: 'stalled-bodies',
  title: '2,000 connections each send 480 KB of a declared 500 KB, then stall',
  description: 'Against `inlet serve` (embedded store), with the canary load running, the drill opens 2,000 '
    + 'connections (quick: 200), 100 at a time every 100 ms, each with a valid write key, declaring a '
    + '500,000-byte body and sending 480 KB of it at once, then nothing. That is about 940 MB in flight (quick: '
    + '94 MB) — bounded for a 2-core machine by sending one shared buffer from a single client process and '
    + 'opening connections in waves. The connections are held 10 s (quick: 3 s) after the last byte was sent, '
    + 'then closed; the server\'s RSS is sampled every 200 ms, and again 10 s (quick: 3 s) after they left. '
    + 'Memory should stay within 256 MB above where it started (quick: 64 MB, with 16 MB of bodies allowed in '
    + 'flight) and return to within 64 MB of it (quick: 32 MB).',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('stalled-bodies');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const canary = drillLoad(() => server.url, writeKey, 'st-', { clients: 1, batchSize: 10, requestsPerSecond: 20 });
    const connections = ctx.quick ? 200 : 2000;
    const filler = fillerBody(480 * KB);
    const attackers: Attacker[] = [];
    ctx.defer(() => { for (const a of attackers) a.stop(); });
    let baseline = 0;
    let peak = 0;
    let after = 0;
    let answered = 0;
    try {
      await waitFor('the canary is acknowledged', () => canary.acknowledged.size > 0, 30_000, 20);
      await sleep(2000);
      baseline = server.rss.rssOf(server.pid);
      const watch = setInterval(() => { peak = Math.max(peak, server.rss.rssOf(server.pid)); }, 200);
      try {
        for (let opened = 0; opened < connections; opened += 100) {
          for (let i = opened; i < Math.min(connections, opened + 100); i++) attackers.push(stalledBody(server.port, writeKey, 500_000, filler));
          await sleep(100);
        }
        await waitFor('every attacker has sent its 480 KB (or was stopped)', () => attackers.every((a) => a.written >= filler.length || a.ended()), 120_000, 200).catch(() => undefined);
        ctx.log(`${attackers.filter((a) => a.written >= filler.length).length} of ${connections} connections sent their 480 KB; RSS ${mb(server.rss.rssOf(server.pid))}`);
        await sleep(ctx.quick ? 3000 : 10_000);
      } finally {
        clearInterval(watch);
      }
      peak = Math.max(peak, server.rss.rssOf(server.pid));
      answered = attackers.filter((a) => a.ended()).length;
      for (const a of attackers) a.stop();
      await sleep(ctx.quick ? 3000 : 10_000);
      after = server.rss.rssOf(server.pid);
    } finally {
      await canary.stop();
    }
    checkAcknowledgedStored(ctx, canary, embeddedIds(dataDir), 'st-', 'no acknowledged canary event is lost');
    ctx.measured.notes.push(`RSS before ${mb(baseline)}, peak ${mb(peak)}, ${ctx.quick ? 3 : 10} s after the clients left ${mb(after)}; `
      + `${answered} of ${attackers.length} stalled connections were answered or closed by the server while they stalled`);
    const peakLimit = (ctx.quick ? 64 : 256) * MB;
    const afterLimit = (ctx.quick ? 32 : 64) * MB;
    ctx.check({
      name: `memory stays within ${mb(peakLimit)} of where it started during the attack`,
      ok: server.running() && peak - baseline <= peakLimit,
      detail: `RSS grew by ${mb(peak - baseline)} (${mb(baseline)} → ${mb(peak)})`,
    });
    ctx.check({
      name: `memory returns to within ${mb(afterLimit)} of where it started once the clients leave`,
      ok: server.running() && after - baseline <= afterLimit,
      detail: `RSS ${mb(after)}, ${mb(after - baseline)} above the start`,
    });
    ctx.check({ name: 'the server stays up and keeps serving others', ok: server.running() && !canary.statuses.has('timeout'), detail: `canary statuses ${JSON.stringify(Object.fromEntries(canary.statuses))}` });
    checkStatuses(ctx, canary);
  },
};
