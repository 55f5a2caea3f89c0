// Where the crossing commit's time goes: deleting the 8,300 oldest rows of the store against the
// 8,300 oldest of the flooding source (every other row), each in a committed transaction, on copies.
import Database from '/work/main/node_modules/better-sqlite3/lib/index.js';
import { copyFileSync, rmSync } from 'node:fs';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, number[]> = { global: [], source: [], sourceChunk1024: [] };
for (let round = 0; round < 3; round++) {
  for (const kind of Object.keys(results)) {
    const file = `/tmp/fairmeasure/copy-${kind}.db`;
    copyFileSync('/tmp/fairmeasure/store.db', file);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const global = db.prepare('DELETE FROM failed_events WHERE seq IN (SELECT seq FROM failed_events ORDER BY seq LIMIT ?) RETURNING size');
    const oldest = db.prepare('SELECT seq, size FROM failed_events WHERE source_id = ? ORDER BY seq LIMIT ?');
    const through = db.prepare('DELETE FROM failed_events WHERE source_id = ? AND seq <= ? RETURNING size');
    db.prepare('SELECT count(*) FROM failed_events').get(); // warm the schema
    const t = performance.now();
    db.transaction(() => {
      let n = 0;
      if (kind === 'global') while (n < 8300) n += global.all(256).length;
      else {
        const chunk = kind === 'source' ? 256 : 1024;
        while (n < 8300) { const rows = oldest.all('src_flood000000000000', chunk) as { seq: number }[]; n += through.all('src_flood000000000000', rows[rows.length - 1].seq).length; }
      }
    })();
    results[kind].push(performance.now() - t);
    db.close();
    rmSync(file); rmSync(`${file}-wal`, { force: true }); rmSync(`${file}-shm`, { force: true });
  }
}
for (const [kind, times] of Object.entries(results)) console.log(kind, 'median', median(times).toFixed(0), 'ms', times.map((t) => t.toFixed(0)).join(', '));
