// `inlet stats`: per source, received = stored + failed (by reason) + duplicate. From the embedded
// store itself; on Kafka from a running server's counts, over its admin API.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { statsReport, type StatsReport } from '../accounting.ts';
import { openExistingDatabase } from '../db/database.ts';
import { DatabaseReader } from '../db/reader.ts';
import { parseSince } from '../durations.ts';
import { openSourceStore } from '../server.ts';
import { configFromFlags, sourceIdOf, STORE_FLAGS } from './common.ts';

export const STATS_HELP = `Usage: inlet stats [--source ID|NAME] [--since 1h] [--json]

Per source: received = stored + failed (by reason) + duplicate (already stored), and how many
failed events a replay stored later. --since takes a duration back from now (30m, 1h, 7d) or an
ISO timestamp (default 1h); counts are kept per minute for 30 days.
Embedded store: read from --data-dir (INLET_DATA_DIR). Kafka (KAFKA_BROKERS set): asked from a
running server's admin API (--admin-url, default http://ADMIN_HOST:ADMIN_PORT; --admin-token or
INLET_ADMIN_TOKEN), which counts since it started.`;

function table(report: StatsReport, names: Map<string, string>): string {
  const rows = report.sources.map((s) => [
    `${s.sourceId}${names.has(s.sourceId) ? ` (${names.get(s.sourceId)})` : ''}`,
    String(s.received), String(s.stored), String(s.duplicate), String(s.failed),
    Object.entries(s.failedByReason).map(([reason, n]) => `${reason} ${n}`).join(', ') || '-',
    String(s.replayed),
  ]);
  const header = ['source', 'received', 'stored', 'duplicate', 'failed', 'failed by reason', 'replayed'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const scope = report.scope === 'process' ? ' (one server, since it started)' : '';
  return [`from ${report.since} to ${report.until}${scope}`, format(header), ...rows.map(format), ...(rows.length ? [] : ['(no events)'])].join('\n');
}

export async function statsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: {
    ...STORE_FLAGS, source: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' },
    'admin-url': { type: 'string' }, 'admin-token': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) { console.log(STATS_HELP); return 0; }
  const since = values.since ?? '1h';
  const sinceMs = parseSince(since);
  if (sinceMs === undefined) { console.error(`inlet stats: --since must be a duration (30m, 1h, 7d) or an ISO timestamp, got "${since}"`); return 2; }
  const config = configFromFlags(values);
  const sourceId = values.source === undefined ? undefined : await sourceIdOf(config, values.source);
  if (values.source !== undefined && sourceId === undefined) { console.error(`inlet stats: no source with id or name "${values.source}" (inlet sources list)`); return 1; }

  let report: StatsReport;
  if (config.kafka) {
    const token = values['admin-token'] ?? process.env.INLET_ADMIN_TOKEN;
    if (!token) { console.error('inlet stats: on Kafka the counts come from a running server: pass --admin-token (or set INLET_ADMIN_TOKEN)'); return 2; }
    const base = values['admin-url'] ?? `http://${config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host}:${config.admin.port}`;
    const query = new URLSearchParams({ since, ...(sourceId ? { source: sourceId } : {}) });
    let response: Response;
    try {
      response = await fetch(`${base}/api/stats?${query}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      console.error(`inlet stats: cannot reach the admin API at ${base} (${(error as Error).message}); is the server running? (--admin-url)`);
      return 1;
    }
    const body = await response.json() as StatsReport & { error?: string };
    if (!response.ok) { console.error(`inlet stats: the admin API answered ${response.status}: ${body.error ?? ''}`); return 1; }
    report = body;
  } else {
    openExistingDatabase(config.dataDir).close();
    const reader = new DatabaseReader(config.dataDir);
    try {
      report = statsReport({ scope: 'store', outcomes: (s, id) => reader.outcomes(s, id) }, sinceMs, { sourceId });
    } finally {
      reader.close();
    }
  }
  if (values.json) { console.log(JSON.stringify(report)); return 0; }
  const names = new Map<string, string>();
  const store = await openSourceStore(config, pino({ level: 'silent' })).catch(() => undefined);
  if (store) {
    for (const s of await store.list().catch(() => [])) names.set(s.id, s.name);
    await store.close();
  }
  console.log(table(report, names));
  return 0;
}
