// A real writer on a copy of the ~1.5 M-row store: how long it takes to start (the start-up sums
// and the first maintenance pass) and what a commit of 1000 failed entries costs, below the cap and
// when it crosses it (the flooding source losing ~4 MB of its oldest entries).
import Database from '/work/main/node_modules/better-sqlite3/lib/index.js';
import { copyFileSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseWriter } from '/work/main/packages/server/src/db/writer.ts';
import { failedEventOf, type FailureContext } from '/work/main/packages/server/src/failed/failed-event.ts';

const dataDir = mkdtempSync('/tmp/fairmeasure/run-');
chmodSync(dataDir, 0o700);
copyFileSync('/tmp/fairmeasure/store.db', join(dataDir, 'inlet.db'));
const check = new Database(join(dataDir, 'inlet.db'));
const { bytes } = check.prepare('SELECT sum(size) AS bytes FROM failed_events').get() as { bytes: number };
check.close();
// The cap: what is stored and 3 commits more, so the 4th crosses it.
const entries = (n: number, source: string) => {
  const context: FailureContext = { sourceId: source, receivedAtMs: Date.now(), route: '/v1/batch', ip: '203.0.113.0', ipPolicy: 'full', sentAt: undefined, type: undefined, keepClientIp: false, historical: false };
  return Array.from({ length: n }, (_, i) => failedEventOf(context, 0, i, 'invalid', ['event must be an object']));
};
const perCommit = entries(1000, 'src_flood000000000000').reduce((sum, r) => sum + Buffer.byteLength(r.json), 0);
let dropped = 0;
const started = performance.now();
const writer = new DatabaseWriter({ dataDir, writeTimeoutMs: 60_000, failedMaxBytes: bytes + Math.floor(3.5 * perCommit), onDropped: ({ size }) => { dropped += size; } });
await writer.write([], entries(1, 'src_flood000000000000'));
console.log(`writer start to first commit: ${(performance.now() - started).toFixed(0)} ms (${bytes} bytes of failed events stored; ${perCommit} bytes per commit of 1000)`);
for (let i = 0; i < 8; i++) {
  const t = performance.now();
  await writer.write([], entries(1000, 'src_flood000000000000'));
  await new Promise((r) => setTimeout(r, 20));
  console.log(`commit ${i + 1}: ${(performance.now() - t - 20).toFixed(1)} ms, dropped so far ${dropped}`);
}
await writer.close();
const after = new Database(join(dataDir, 'inlet.db'), { readonly: true });
console.log(after.prepare("SELECT source_id AS s, count(*) AS n, sum(size) AS b FROM failed_events GROUP BY source_id ORDER BY b DESC LIMIT 3").all());
after.close();
rmSync(dataDir, { recursive: true, force: true });
