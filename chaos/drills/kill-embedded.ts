// SIGKILL the server three times under load (embedded store): what it acknowledged must be on
// disk when it comes back, once.
import type { Drill } from '../lib/drill.ts';
import { checkAcknowledgedStored, seconds, sleep } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, killRepeatedly, embeddedIds, ServerUnderTest } from '../lib/servers.ts';

export const killEmbedded: Drill = {
  name: 'kill-embedded',
  title: 'SIGKILL the server under load ×3 (embedded store)',
  description: 'The drill load (four clients posting batches of 20 events with their own messageIds, at most 250 '
    + 'requests/s) runs against `inlet serve` with the embedded SQLite store. Three times, after a stretch of load (6 s; quick: 1 s), the server gets '
    + 'SIGKILL and is started again at once on the same data directory and port, while the clients keep '
    + 'sending. At the end every acknowledged messageId is looked up in the store. Recovery: from the kill '
    + 'to the first 200 from the restarted server (includes the restart).',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('kill-embedded');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const load = drillLoad(() => server.url, writeKey, 'ke-');
    let recovered = 0;
    try {
      recovered = await killRepeatedly(ctx, server, load);
      await sleep(ctx.quick ? 500 : 3000);
    } finally {
      await load.stop();
    }
    const c = checkAcknowledgedStored(ctx, load, embeddedIds(dataDir), 'ke-', 'no acknowledged event is lost across three SIGKILLs');
    ctx.check({ name: 'no event is stored twice', ok: c.duplicates === 0 && c.unknown === 0, detail: `${c.duplicates} extra copies, ${c.unknown} stored ids never sent` });
    ctx.check({
      name: 'the server comes back and takes writes after each kill',
      ok: recovered === 3,
      detail: `recovered after ${recovered} of 3 kills (${ctx.measured.recoveryMs.map(seconds).join(', ')})`,
    });
    checkStatuses(ctx, load);
  },
};
