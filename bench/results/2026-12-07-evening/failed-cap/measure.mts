// Builds a store of ~1.5 M failed rows (schema 6: the source index without size), then times the sums.
import Database from '/work/main/node_modules/better-sqlite3/lib/index.js';
import { existsSync, rmSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { migrate } from '/work/main/packages/server/src/db/migrations.ts';

const file = process.argv[2] ?? '/tmp/fairmeasure/store.db';
const ROWS = 1_500_000;
const SOURCES = 20;

function dropCaches(): boolean {
  try { execSync('sync; echo 3 > /proc/sys/vm/drop_caches', { stdio: 'ignore' }); return true; } catch { return false; }
}
function time<T>(label: string, run: () => T): T {
  const t = performance.now();
  const result = run();
  console.log(`${label}: ${(performance.now() - t).toFixed(0)} ms`);
  return result;
}

if (!existsSync(file)) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Bring it to schema 6 by running the real migrate with step 7 hidden: build at 6 via a copy of the steps.
  migrate(db);
  // undo step 7 if present, to measure from what a store of today has
  db.exec('DROP INDEX failed_events_source; CREATE INDEX failed_events_source ON failed_events (source_id, seq);');
  db.pragma('user_version = 6');
  const insert = db.prepare('INSERT INTO failed_events (id, source_id, received_at, reason, size, entry) VALUES (?, ?, ?, ?, ?, ?)');
  const body = JSON.stringify({ id: '', sourceId: '', reason: 'invalid', errors: ['event must be an object'], route: '/v1/batch', kind: 'event', index: 0, event: 0, context: { ip: '203.0.113.0', userAgent: 'x'.repeat(300) }, receivedAt: new Date().toISOString() });
  const now = Date.now();
  const t = performance.now();
  for (let start = 0; start < ROWS; start += 50_000) {
    db.transaction(() => {
      for (let i = start; i < start + 50_000; i++) {
        // one source floods (half the rows), the rest share the other half
        const source = i % 2 === 0 ? 'src_flood000000000000' : `src_quiet${String(i % SOURCES).padStart(12, '0')}`;
        const entry = body.replace('"id":""', `"id":"f${i}"`);
        insert.run(`f${i}`, source, now - (ROWS - i), 'invalid', Buffer.byteLength(entry), entry);
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  console.log(`built ${ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s; file ${(statSync(file).size / 1e6).toFixed(0)} MB`);
}

const cold = process.argv.includes('--cold');
const measureAt = (label: string) => {
  const db = new Database(file);
  for (const [name, sql] of [
    ['total (today: sum from failed_events_age)', 'SELECT coalesce(sum(size), 0) AS bytes FROM failed_events'],
    ['per-source sums (GROUP BY source_id)', 'SELECT source_id AS sourceId, sum(size) AS bytes FROM failed_events GROUP BY source_id'],
  ] as const) {
    console.log(`[${label}] plan of ${name}: ${(db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ')}`);
    for (let run = 0; run < 3; run++) {
      if (cold) { db.close(); dropCaches(); }
      const d = cold ? new Database(file) : db;
      time(`[${label}] ${name}${cold ? ' (cold cache)' : ''} run ${run + 1}`, () => d.prepare(sql).all());
      if (cold) d.close();
    }
    if (cold) break;
  }
  if (!cold) db.close();
};

const db0 = new Database(file);
const version = db0.pragma('user_version', { simple: true });
db0.close();
if (version === 6) {
  measureAt('schema 6, index (source_id, seq)');
  const db = new Database(file);
  time('migration step 7 (rebuild failed_events_source with size) on 1.5 M rows', () => migrate(db));
  console.log('oldest-of-source plan:', (db.prepare("EXPLAIN QUERY PLAN SELECT seq, size FROM failed_events WHERE source_id = ? ORDER BY seq LIMIT ?").all("x", 1) as { detail: string }[]).map((r) => r.detail).join('; '));
  console.log('drop-through plan:', (db.prepare("EXPLAIN QUERY PLAN DELETE FROM failed_events WHERE source_id = ? AND seq <= ? RETURNING size").all("x", 1) as { detail: string }[]).map((r) => r.detail).join('; '));
  db.close();
}
measureAt('schema 7, index (source_id, seq, size)');
if (process.argv.includes('--reset6')) {
  const db = new Database(file);
  db.exec('DROP INDEX failed_events_source; CREATE INDEX failed_events_source ON failed_events (source_id, seq);');
  db.pragma('user_version = 6');
  db.close();
  console.log('reset to schema 6');
}
