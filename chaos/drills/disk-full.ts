// The embedded store's disk fills up under load: writes must get 503 (not 500, not a crash),
// nothing acknowledged may be lost, readiness should say 503 while it lasts, and writing must
// resume once there is room again.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Drill } from '../lib/drill.ts';
import { checkAcknowledgedStored, ReadinessWatch, seconds, sleep, timeRecovery, waitFor } from '../lib/measure.ts';
import { checkStatuses, createSource, drillLoad, embeddedIds, ServerUnderTest } from '../lib/servers.ts';
import { freeBytes, mountTmpfs } from '../lib/tmpfs.ts';

const MB = 1024 * 1024;
const DETECTION_GRACE_MS = 3000;

export const diskFull: Drill = {
  name: 'disk-full',
  title: 'disk full under load (embedded store)',
  description: 'The embedded store\'s data directory is on a tmpfs of its own (64 MB; quick: 24 MB), so a full '
    + 'disk is the kernel\'s real ENOSPC. A ballast file leaves 8 MB (quick: 3 MB) free; the drill load, with '
    + 'events padded to about 1 KB, fills the rest. Once writes are refused the disk stays full for 20 s '
    + '(quick: 6 s), with `/health/ready` polled every 250 ms; then the ballast is deleted. Recovery: from the '
    + 'room being freed to the first 200.',
  needs: ['root'],
  async run(ctx) {
    const disk = mountTmpfs(ctx, (ctx.quick ? 24 : 64) * MB);
    const dataDir = join(disk, 'data');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const readiness = new ReadinessWatch(() => server.url);
    ctx.defer(() => readiness.stop());
    const ballast = join(disk, 'ballast');
    writeFileSync(ballast, Buffer.alloc(Math.max(0, freeBytes(disk) - (ctx.quick ? 3 : 8) * MB)));
    ctx.log(`${(freeBytes(disk) / MB).toFixed(1)} MB left on the tmpfs`);
    const load = drillLoad(() => server.url, writeKey, 'df-', { properties: { padding: 'x'.repeat(900) } });
    let fullAt = 0;
    let freedAt = 0;
    let recovered = false;
    try {
      await waitFor('writes are refused (the disk is full)', () => (load.statuses.get(503) ?? 0) > 0 || !server.running(), 120_000, 50);
      fullAt = performance.now();
      ctx.log(`disk full: first 503 with ${load.acknowledged.size} events acknowledged; ${(freeBytes(disk) / 1024).toFixed(0)} KB free`);
      await sleep(ctx.quick ? 6000 : 20_000);
      rmSync(ballast);
      freedAt = performance.now();
      recovered = await timeRecovery(ctx, load, freedAt);
      await sleep(ctx.quick ? 1000 : 3000);
    } finally {
      await load.stop();
      await readiness.stop();
    }
    ctx.measured.notes.push(`503s while full: ${load.statuses.get(503) ?? 0}`);
    checkAcknowledgedStored(ctx, load, embeddedIds(dataDir), 'df-');
    ctx.check({ name: 'the server stays up through a full disk', ok: server.running(), detail: server.running() ? 'yes' : `it exited: ${server.current.stderr().trim().split('\n').pop()}` });
    const lying = readiness.readyMs(fullAt + DETECTION_GRACE_MS, freedAt);
    ctx.check({
      name: '/health/ready says 503 while the disk is full (after 3 s to notice)',
      ok: lying === 0,
      detail: `said 200 for ${seconds(lying)} of the ${seconds(freedAt - fullAt - DETECTION_GRACE_MS)} writes were refused`,
    });
    ctx.check({ name: 'writing resumes once there is room again', ok: recovered, detail: recovered ? `first 200 ${seconds(ctx.measured.recoveryMs[0])} after the ballast was deleted` : 'no 200 within 60 s' });
    checkStatuses(ctx, load);
  },
};
