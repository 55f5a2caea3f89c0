// Numbers JSON can carry but a double cannot hold: an id beyond 2^53 changes silently (two users'
// ids collide), 1e400 becomes Infinity and is stored as null. Each should get a clear per-event error.
import type { Drill } from '../lib/drill.ts';
import { addStatuses } from '../lib/measure.ts';
import { createSource, embeddedIds, ServerUnderTest } from '../lib/servers.ts';
import { readStoredEvents } from '@inlet/server';

export const numbers: Drill = {
  name: 'numbers',
  title: 'numbers beyond what a double holds: 2^53 + 1 as a userId, 1e400',
  description: 'Posts two events to `/v1/batch` of `inlet serve` (embedded store), written as raw JSON text: one '
    + 'with `"userId": 9007199254740993` (2^53 + 1), one with a property `1e400`. Each should be rejected in '
    + 'the answer\'s `errors` (or the request refused), and never stored with a changed value.',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('numbers');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const body = '{"batch":['
      + '{"type":"track","userId":9007199254740993,"event":"Big Id","messageId":"num-big-id"},'
      + '{"type":"track","userId":"u1","event":"Huge","messageId":"num-huge","properties":{"x":1e400}}]}';
    const response = await fetch(`${server.url}/v1/batch`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    });
    const reply = await response.json() as { accepted?: number; errors?: { index: number }[] };
    addStatuses(ctx.measured, { [response.status]: 1 });
    ctx.measured.notes.push(`answer: ${response.status} ${JSON.stringify(reply)}`);
    const stored = new Map(readStoredEvents(dataDir, 0, 1000).map((row) => [row.record.messageId, row.record]));
    ctx.measured.stored = embeddedIds(dataDir).length;
    const rejected = (index: number) => response.status === 400 || (reply.errors ?? []).some((e) => e.index === index);

    const big = stored.get('num-big-id');
    ctx.check({
      name: 'a userId above 2^53 is rejected with a per-event error, never stored changed',
      ok: rejected(0) && !big,
      detail: big ? `stored with userId ${JSON.stringify(big.userId)}` : rejected(0) ? 'rejected' : 'neither stored nor rejected',
    });
    const huge = stored.get('num-huge');
    ctx.check({
      name: '1e400 is rejected with a per-event error, never stored as something else',
      ok: rejected(1) && !huge,
      detail: huge ? `stored with x = ${JSON.stringify(huge.properties?.x)}` : rejected(1) ? 'rejected' : 'neither stored nor rejected',
    });
  },
};
