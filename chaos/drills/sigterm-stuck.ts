// SIGTERM while a request is stuck mid-body: the server must drain for a bounded time, close what
// is left and exit — acknowledged events kept — instead of waiting on the client forever.
import type { Drill } from '../lib/drill.ts';
import { stalledBody, fillerBody, type Attacker } from '../lib/attacks.ts';
import { checkAcknowledgedStored, seconds, sleep, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, FULL_BOUNDS, QUICK_BOUNDS, ServerUnderTest } from '../lib/servers.ts';

export const sigtermStuck: Drill = {
  name: 'sigterm-stuck',
  title: 'SIGTERM with a stuck request',
  description: 'The drill load runs against `inlet serve` (embedded store); three more connections each send '
    + 'half of a small batch and stall. The server gets SIGTERM. It should finish what is in flight, close '
    + 'the stuck connections after its drain time and exit 0 within 25 s (quick: 6 s, with the drain set to '
    + '2 s). If it has not, the stuck clients hang up and the drill times how long the exit then takes. '
    + 'Recovery: SIGTERM to exit.',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('sigterm-stuck');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const load = drillLoad(() => server.url, writeKey, 'sg-');
    const stuck: Attacker[] = [];
    ctx.defer(() => { for (const a of stuck) a.stop(); });
    const bound = ctx.quick ? QUICK_BOUNDS.drain : FULL_BOUNDS.drain;
    let exitedInBound = false;
    let exitMs = 0;
    let exitCode: number | string | null = null;
    let endedByServer: string[] = [];
    try {
      await waitFor('the load is acknowledged', () => load.acknowledged.size > 0, 30_000, 20);
      await sleep(ctx.quick ? 1000 : 3000);
      for (let i = 0; i < 3; i++) stuck.push(stalledBody(server.port, writeKey, 400, fillerBody(200)));
      await sleep(500);
      const termAt = performance.now();
      server.current.child.kill('SIGTERM');
      exitedInBound = await waitFor('the server exits', () => !server.running(), bound, 50).then(() => true, () => false);
      if (exitedInBound) await load.stop(); // nothing left to answer it
      await sleep(100); // the close of their sockets reaches the stuck clients
      endedByServer = stuck.filter((a) => a.ended()).map((a) => (a.status === undefined ? 'closed' : String(a.status)));
      if (!exitedInBound) {
        ctx.log(`still running ${seconds(bound)} after SIGTERM; the stuck clients hang up now`);
        for (const a of stuck) a.stop();
        const hungUpAt = performance.now();
        const exited = await waitFor('the server exits after the clients hung up', () => !server.running(), 20_000, 50).then(() => true, () => false);
        await load.stop();
        ctx.measured.notes.push(exited ? `exited ${seconds(performance.now() - hungUpAt)} after the stuck clients hung up` : 'still running 20 s after the stuck clients hung up');
      }
      exitMs = performance.now() - termAt;
      ctx.measured.recoveryMs.push(exitMs);
      const { code, signal } = await Promise.race([server.current.exited, sleep(1000).then(() => ({ code: null, signal: 'still running' as const }))]);
      exitCode = code ?? signal;
    } finally {
      await load.stop();
    }
    checkAcknowledgedStored(ctx, load, embeddedIds(dataDir), 'sg-');
    ctx.check({
      name: `SIGTERM with stuck requests open: the server exits within ${bound / 1000} s`,
      ok: exitedInBound,
      detail: exitedInBound ? `exited after ${seconds(exitMs)}` : `still running ${seconds(bound)} after SIGTERM`,
    });
    ctx.check({ name: 'the server exits 0', ok: exitCode === 0, detail: `exit ${exitCode}` });
    ctx.check({
      name: 'the server answers or closes the stuck connections itself',
      ok: endedByServer.length === stuck.length,
      detail: `${endedByServer.length} of ${stuck.length}${endedByServer.length ? ` (${endedByServer.join(', ')})` : ''}`,
    });
    checkStatuses(ctx, load);
  },
};
