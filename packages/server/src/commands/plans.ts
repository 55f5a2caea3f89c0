// `inlet plans put|get|history|delete|infer|typegen`: tracking plans in the source store the
// server uses (the embedded file, or PostgreSQL with DATABASE_URL). Running servers apply a new
// version within 5 seconds.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openExistingDatabase } from '../db/database.ts';
import { DatabaseReader } from '../db/reader.ts';
import { parseSince } from '../durations.ts';
import { InletError } from '../errors.ts';
import { embeddedSamples, kafkaSamples, type EventSamples } from '../plans/event-samples.ts';
import { MAX_PLAN_BYTES, MAX_PLAN_EVENTS } from '../plans/plan.ts';
import type { PlanVersion } from '../plans/plan-store.ts';
import { PlanService } from '../plans/plan-service.ts';
import { openSourceStore } from '../server.ts';
import { findSource } from '../sources/source-store.ts';
import { configFromFlags, STORE_FLAGS } from './common.ts';

export const PLANS_HELP = `Usage: inlet plans put --source ID plan.json      store plan.json (or - for stdin) as the next version
       inlet plans get --source ID [--version N]   print the current plan (or version N)
       inlet plans history --source ID [--json]    every version, newest first
       inlet plans delete --source ID              stop checking the source's events (a version too)
       inlet plans infer --source ID [--since 7d] [--out plan.json]
                                                   propose a plan from the source's stored events
       inlet plans typegen --source ID [--version N] [--out analytics.ts]
                                                   TypeScript for @inlet/browser and @inlet/node

A plan (JSON): {"unplanned": "allow|flag|block", "violations": "flag|block",
  "events": {"Order Completed": {"properties": <JSON Schema>}}, "pages": {...}, "screens": {...},
  "identify": {"traits": <JSON Schema>}, "group": {"traits": <JSON Schema>}}
Schemas are JSON Schema draft 2020-12; a plan whose schemas do not compile is refused with the
reason. At most ${MAX_PLAN_BYTES} bytes and ${MAX_PLAN_EVENTS} named events. flag: events are stored with
context.violations; block: they go to the failed events (reason plan_violation). Running servers
apply a new version within 5 seconds. --source takes a source id or an active source's name.
infer reads the embedded store (newest first, back to --since), or with KAFKA_BROKERS the
raw-events topic from --since on; either way at most 100,000 of the source's events and
1,000,000 records looked at.
Uses DATABASE_URL (or --database-url) when set, the embedded store (--data-dir) otherwise.`;

class UsageError extends Error {}

const ACTIONS = ['put', 'get', 'history', 'delete', 'infer', 'typegen'];

function versionLine(v: PlanVersion): string {
  const what = v.deleted ? 'deleted' : `${v.summary?.events ?? '?'} events, unplanned: ${v.summary?.unplanned}, violations: ${v.summary?.violations}, ${v.summary?.bytes} bytes`;
  return `v${v.version}  ${v.createdAt}  ${what}`;
}

export async function plansCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
    ...STORE_FLAGS,
    source: { type: 'string' }, version: { type: 'string' }, since: { type: 'string' }, out: { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help || !action || action === '--help' || action === '-h') { console.log(PLANS_HELP); return action ? 0 : 2; }
  let version: number | undefined;
  let sinceMs: number;
  try {
    if (!ACTIONS.includes(action)) throw new UsageError(`unknown plans command "${action}"\n${PLANS_HELP}`);
    if (!values.source) throw new UsageError(`plans ${action} needs --source ID`);
    if (action === 'put' && !positionals[0]) throw new UsageError('plans put needs the plan file (or - for stdin)');
    if (values.version !== undefined) {
      version = Number(values.version);
      if (!Number.isSafeInteger(version) || version < 1) throw new UsageError('--version must be a positive integer');
    }
    const since = values.since === undefined ? Date.now() - 7 * 86_400_000 : parseSince(values.since);
    if (since === undefined) throw new UsageError(`--since must be a duration (30m, 1h, 7d) or an ISO timestamp, got "${values.since}"`);
    sinceMs = since;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`inlet plans ${action}: ${error.message}`);
    return 2;
  }

  const config = configFromFlags(values);
  if (!config.databaseUrl) openExistingDatabase(config.dataDir).close();
  const sources = await openSourceStore(config, pino({ level: 'warn' }));
  let reader: DatabaseReader | undefined;
  let samples: EventSamples | undefined;
  if (action === 'infer') {
    if (config.kafka) samples = kafkaSamples(config.kafka);
    else {
      openExistingDatabase(config.dataDir).close();
      reader = new DatabaseReader(config.dataDir);
      samples = embeddedSamples(reader);
    }
  }
  const plans = new PlanService({ sources, samples });
  try {
    const source = await findSource(sources, values.source);
    if (!source) { console.error(`inlet plans ${action}: no source with id or name "${values.source}" (inlet sources list)`); return 1; }
    const id = source.id;
    switch (action) {
      case 'put': {
        const file = positionals[0];
        const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
        const stored = await plans.put(id, text);
        console.log(values.json ? JSON.stringify(stored) : `stored plan v${stored.version} for ${id} (${stored.summary?.events} events, unplanned: ${stored.summary?.unplanned}, violations: ${stored.summary?.violations}); running servers apply it within 5 seconds`);
        return 0;
      }
      case 'get': {
        const stored = await plans.get(id, version);
        console.log(values.json ? JSON.stringify(stored) : stored.plan === null ? `v${stored.version} deleted the plan (${stored.createdAt})` : JSON.stringify(stored.plan, null, 2));
        return 0;
      }
      case 'history': {
        const versions = await plans.history(id);
        if (values.json) console.log(JSON.stringify(versions));
        else if (versions.length === 0) console.log(`source ${id} has never had a plan`);
        else for (const v of versions) console.log(versionLine(v));
        return 0;
      }
      case 'delete': {
        const deleted = await plans.delete(id);
        console.log(`deleted the plan of ${id} (recorded as v${deleted.version}); running servers stop checking its events within 5 seconds`);
        return 0;
      }
      case 'infer': {
        const inferred = await plans.infer(id, sinceMs);
        const text = `${JSON.stringify(inferred.plan, null, 2)}\n`;
        if (values.out) writeFileSync(values.out, text);
        else process.stdout.write(text);
        const notes = [`inferred from ${inferred.events} events of ${id} since ${inferred.since} (${inferred.scanned} looked at)`];
        if (inferred.truncated) notes.push('stopped at a limit: older events were not read');
        if (inferred.namesLeftOut) notes.push(`${inferred.namesLeftOut} event names left out (the plan has its ${MAX_PLAN_EVENTS})`);
        console.error(notes.join('; '));
        return 0;
      }
      default: {
        const typescript = await plans.typegen(id, version);
        if (values.out) {
          writeFileSync(values.out, typescript);
          console.error(`wrote ${values.out}: new Analytics<TrackingPlan>(...) / new ServerAnalytics<TrackingPlan>(...) type-checks track() against the plan`);
        } else process.stdout.write(typescript);
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof InletError) {
      console.error(`inlet plans ${action}: ${error.message}`);
      return error.statusCode === 400 || error.statusCode === 413 ? 2 : 1;
    }
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      console.error(`inlet plans ${action}: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  } finally {
    reader?.close();
    await sources.close();
  }
}
