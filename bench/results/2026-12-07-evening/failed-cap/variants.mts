import Database from '/work/main/node_modules/better-sqlite3/lib/index.js';
const db = new Database(process.argv[2], { readonly: true });
console.log('version', db.pragma('user_version', { simple: true }));
const t = (label: string, sql: string, ...p: unknown[]) => {
  const s = db.prepare(sql);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) { const a = performance.now(); s.all(...p); times.push(Math.round(performance.now() - a)); }
  console.log(label.padEnd(60), times.join(', '), 'ms');
};
t('sum(size) via age index', 'SELECT sum(size) FROM failed_events INDEXED BY failed_events_age');
t('sum(size) via source index', 'SELECT sum(size) FROM failed_events INDEXED BY failed_events_source');
t('count(*) via source index', 'SELECT count(*) FROM failed_events INDEXED BY failed_events_source WHERE source_id > \'\'');
t('group by source_id', 'SELECT source_id, sum(size) FROM failed_events GROUP BY source_id');
const sources = db.prepare('SELECT DISTINCT source_id AS s FROM failed_events').all() as { s: string }[];
t('distinct source_id (skip?)', 'SELECT DISTINCT source_id FROM failed_events');
const per = db.prepare('SELECT sum(size) AS b FROM failed_events WHERE source_id = ?');
const a = performance.now(); for (const { s } of sources) per.get(s); console.log('per source, one query each'.padEnd(60), Math.round(performance.now() - a), 'ms');
const pages = db.prepare("SELECT name, count(*) AS pages FROM dbstat GROUP BY name").all();
console.log(pages);
