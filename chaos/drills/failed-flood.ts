// One source floods the embedded store with events that fail validation, on a small disk: the
// failed events are kept (each one seen) but must give way before the disk is full, so the other
// sources' events are still stored and the server stays ready. Under the 1 GiB size cap alone the
// flood filled the disk and every source was refused for as long as the failed events were kept.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startLoad } from '@inlet/testkit';
import type { Drill } from '../lib/drill.ts';
import { checkAcknowledgedStored, ReadinessWatch, seconds, sleep } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, ServerUnderTest } from '../lib/servers.ts';
import { freeBytes, mountTmpfs } from '../lib/tmpfs.ts';

const MB = 1024 * 1024;
/** Below this much free the sink says not ready (embedded-sink.ts MIN_FREE_BYTES). */
const NOT_READY_BELOW = 16 * MB;

export const failedFlood: Drill = {
  name: 'failed-flood',
  title: 'a flood of invalid events on a small disk (embedded store)',
  description: 'The data directory is on a tmpfs of its own (384 MB; quick: 256 MB). One source posts invalid events '
    + 'of about 8 KB (batches of 50, up to 40 requests/s: up to 16 MB/s) for 40 s (quick: 20 s), more than the disk '
    + 'holds, under the default 1 GiB cap of failed events; another source sends the drill load meanwhile. '
    + 'The free space is sampled every 250 ms and `/health/ready` polled.',
  needs: ['root'],
  async run(ctx) {
    const diskBytes = (ctx.quick ? 256 : 384) * MB;
    const disk = mountTmpfs(ctx, diskBytes);
    const dataDir = join(disk, 'data');
    const env = { INLET_DATA_DIR: dataDir };
    const goodKey = await createSource(env, 'good');
    const floodKey = await createSource(env, 'flood');
    const server = await ServerUnderTest.start(ctx, env);
    const readiness = new ReadinessWatch(() => server.url);
    ctx.defer(() => readiness.stop());
    const good = drillLoad(() => server.url, goodKey, 'ff-');
    const flood = startLoad({ url: () => server.url, writeKey: floodKey, clients: 4, batchSize: 50, requestsPerSecond: 40, idPrefix: 'flood-', invalid: true, properties: { padding: 'x'.repeat(8000) } });
    let minFree = freeBytes(disk);
    const sampler = setInterval(() => { minFree = Math.min(minFree, freeBytes(disk)); }, 250);
    const started = performance.now();
    try {
      await sleep(ctx.quick ? 20_000 : 40_000);
    } finally {
      clearInterval(sampler);
      await flood.stop();
      await sleep(1000);
      await good.stop();
      await readiness.stop();
    }
    const flooded = (flood.statuses.get(200) ?? 0) * 50;
    ctx.log(`flood: ${flooded} invalid events answered 200; least free space ${(minFree / MB).toFixed(1)} MB`);
    ctx.measured.notes.push(`invalid events answered: ${flooded}; least free: ${(minFree / MB).toFixed(1)} MB`);
    checkAcknowledgedStored(ctx, good, embeddedIds(dataDir), 'ff-');
    const db = new Database(join(dataDir, 'inlet.db'), { readonly: true });
    const kept = (db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM failed_events').get() as { n: number; bytes: number });
    db.close();
    ctx.check({ name: 'failed events are still kept, the newest', ok: kept.n > 0, detail: `${kept.n} kept (${(kept.bytes / MB).toFixed(0)} MB)` });
    ctx.check({ name: 'the flood was more than the disk holds', ok: flooded * 8100 > diskBytes, detail: `${((flooded * 8100) / MB).toFixed(0)} MB of failed events` });
    ctx.check({ name: 'the failed events give way before the disk is full', ok: minFree > NOT_READY_BELOW, detail: `least free ${(minFree / MB).toFixed(1)} MB (not ready below ${NOT_READY_BELOW / MB} MB)` });
    const notReady = Math.max(0, (performance.now() - started) - readiness.readyMs(started, performance.now()));
    ctx.check({ name: 'the server stays ready through the flood', ok: notReady < 2000, detail: `not ready for ${seconds(notReady)}` });
    ctx.check({ name: "the other source's events are stored throughout", ok: (good.statuses.get(503) ?? 0) <= (good.statuses.get(200) ?? 0) / 100, detail: `${good.statuses.get(200) ?? 0} answered 200, ${good.statuses.get(503) ?? 0} 503` });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
    checkStatuses(ctx, good);
  },
};
