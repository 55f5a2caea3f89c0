// `inlet failed list|show|replay`: the failed events of the embedded store or the Kafka topic.
import { parseArgs } from 'node:util';
import { parseSince } from '../durations.ts';
import type { FailedFilter, FailedView, ReplaySummary } from '../failed/failed-store.ts';
import { FAILURE_REASONS, isFailureReason } from '../failed/reasons.ts';
import { configFromFlags, openFailedStore, sourceIdOf, STORE_FLAGS } from './common.ts';

export const FAILED_HELP = `Usage: inlet failed list [--source ID|NAME] [--reason R] [--since 1h] [--until T] [--status failed|replayed|all] [--limit 50] [--json]
       inlet failed show <id>
       inlet failed replay [--source ID|NAME] [--reason R] [--since T] [--until T] [--dry-run] [--json]

Failed events: events from a known source that were not stored, with the reason. Newest first.
  --json      list: NDJSON, one failed event a line (id, sourceId, reason, errors, receivedAt, event, ...)
  --since     a duration back from now (30m, 1h, 7d) or an ISO timestamp
  --dry-run   replay: count what would pass now, store nothing
Replay checks each failed event as the server checks events today; what passes is stored with its
original messageId and receivedAt, marked context.inlet.replayed with the failed event's id; what
still fails stays, with today's reasons. Events are checked against their source's tracking plan as
it is now (see inlet plans). Replaying again stores nothing twice.
Reasons: ${Object.keys(FAILURE_REASONS).join(', ')}.
Uses the embedded store in --data-dir (INLET_DATA_DIR), or the failed-events topic when KAFKA_BROKERS is set.`;

class UsageError extends Error {}

function time(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = parseSince(value);
  if (at === undefined) throw new UsageError(`--${name} must be a duration (30m, 1h, 7d) or an ISO timestamp, got "${value}"`);
  return at;
}

function line(entry: FailedView): string {
  const where = entry.index === undefined ? entry.route : `${entry.route}[${entry.index}]`;
  const first = entry.errors[0] ?? '';
  return [entry.id, entry.receivedAt, entry.sourceId, entry.reason.padEnd(14), where, entry.status === 'replayed' ? `(replayed ${entry.replayedAt})` : first].join('  ');
}

function summaryLine(s: ReplaySummary): string {
  if (s.dryRun) return `dry run: ${s.matched} checked, ${s.passed} would be stored now, ${s.stillFailing} still fail`;
  return `replayed: ${s.matched} checked, ${s.passed} passed (${s.stored} events stored, ${s.duplicates} already stored), ${s.stillFailing} still fail`;
}

export async function failedCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
    ...STORE_FLAGS,
    source: { type: 'string' }, reason: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' },
    status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help || !action || action === '--help' || action === '-h') { console.log(FAILED_HELP); return action ? 0 : 2; }
  if (!['list', 'show', 'replay'].includes(action)) { console.error(`unknown failed command "${action}"\n${FAILED_HELP}`); return 2; }

  let filter: FailedFilter;
  let limit: number;
  try {
    if (values.reason !== undefined && !isFailureReason(values.reason)) throw new UsageError(`--reason must be one of ${Object.keys(FAILURE_REASONS).join(', ')}`);
    if (values.status !== undefined && !['failed', 'replayed', 'all'].includes(values.status)) throw new UsageError('--status must be failed, replayed or all');
    limit = Number(values.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new UsageError('--limit must be an integer from 1 to 100000');
    filter = {
      sourceId: values.source,
      reason: values.reason,
      sinceMs: time('since', values.since),
      untilMs: time('until', values.until),
      status: values.status as FailedFilter['status'],
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`inlet failed ${action}: ${error.message}`);
    return 2;
  }
  if (action === 'show' && !positionals[0]) { console.error('failed show needs the id of a failed event'); return 2; }

  const config = configFromFlags(values);
  if (values.source !== undefined && action !== 'show') {
    filter.sourceId = await sourceIdOf(config, values.source);
    if (filter.sourceId === undefined) { console.error(`inlet failed ${action}: no source with id or name "${values.source}" (inlet sources list)`); return 1; }
  }
  const store = await openFailedStore(config, { forReplay: action === 'replay' && !values['dry-run'], rechecks: action === 'replay' });
  try {
    if (action === 'list') {
      let before: string | undefined;
      let left = limit;
      while (left > 0) {
        const page = await store.list(filter, Math.min(left, 1000), before);
        for (const entry of page.failed) console.log(values.json ? JSON.stringify(entry) : line(entry));
        left -= page.failed.length;
        if (!page.next) break;
        before = page.next;
      }
      return 0;
    }
    if (action === 'show') {
      const entry = await store.get(positionals[0]);
      if (!entry) { console.error(`no failed event with id ${positionals[0]}`); return 1; }
      console.log(JSON.stringify(entry, null, 2));
      return 0;
    }
    const summary = await store.replay({ ...filter, status: 'failed' }, {
      dryRun: values['dry-run'] ?? false,
      onProgress: values.json ? undefined : (s) => console.log(`checked ${s.matched}: ${s.passed} pass, ${s.stillFailing} still fail`),
    });
    console.log(values.json ? JSON.stringify(summary) : summaryLine(summary));
    return 0;
  } finally {
    await store.close();
  }
}
