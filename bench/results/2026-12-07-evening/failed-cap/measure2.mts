// Timings on the ~1.5 M-row store built by measure.ts: the start-up reads before and after
// migration step 7, the step itself, a writer's start and the commit that crosses the cap.
import Database from '/work/main/node_modules/better-sqlite3/lib/index.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from '/work/main/packages/server/src/db/migrations.ts';

const file = '/tmp/fairmeasure/store.db';
const RUNS = 5;
const evict = (f: string) => execFileSync('python3', ['-c', `import os\nfd=os.open(${JSON.stringify(f)}, os.O_RDONLY)\nos.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)`]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function timeQuery(label: string, sql: string, cold: boolean): void {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (cold) evict(file);
    const db = new Database(file, { readonly: true });
    const t = performance.now();
    db.prepare(sql).all();
    times.push(performance.now() - t);
    db.close();
  }
  console.log(`${label}${cold ? ' [cold]' : ' [warm]'}: median ${median(times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')})`);
}
const TOTAL = 'SELECT coalesce(sum(size), 0) AS bytes FROM failed_events';
const BY_SOURCE = 'SELECT source_id AS sourceId, sum(size) AS bytes FROM failed_events GROUP BY source_id';
function toSchema6(): void {
  const db = new Database(file);
  db.exec('DROP INDEX failed_events_source; CREATE INDEX failed_events_source ON failed_events (source_id, seq);');
  db.pragma('user_version = 6');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
{
  const db = new Database(file, { readonly: true });
  console.log('rows', (db.prepare('SELECT count(*) AS n FROM failed_events').get() as { n: number }).n, 'sources', (db.prepare('SELECT count(DISTINCT source_id) AS n FROM failed_events').get() as { n: number }).n);
  db.close();
}
toSchema6();
for (const cold of [false, true]) {
  timeQuery('schema 6: total from failed_events_age (today\'s start-up read)', TOTAL, cold);
  timeQuery('schema 6: sums by source, index (source_id, seq) + table', BY_SOURCE, cold);
}
const migrations: number[] = [];
for (let i = 0; i < 3; i++) {
  if (i > 0) toSchema6();
  const db = new Database(file);
  const t = performance.now();
  migrate(db);
  migrations.push(performance.now() - t);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
console.log(`migration step 7 (index rebuilt with size): median ${median(migrations).toFixed(0)} ms (${migrations.map((t) => t.toFixed(0)).join(', ')})`);
for (const cold of [false, true]) {
  timeQuery('schema 7: total from failed_events_age (the per-minute check)', TOTAL, cold);
  timeQuery('schema 7: sums by source, covering index (source_id, seq, size) (start-up read)', BY_SOURCE, cold);
}
