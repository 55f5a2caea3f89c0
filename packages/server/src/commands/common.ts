// What the `inlet` commands share: settings from a few flags (everything else from the env), and
// the failed-events store of the configured backend (with the sources' tracking plans, for a replay).
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config.ts';
import { databaseFile, openExistingDatabase } from '../db/database.ts';
import { DatabaseReader } from '../db/reader.ts';
import { DatabaseWriter } from '../db/writer.ts';
import { EmbeddedFailedStore } from '../failed/embedded-failed-store.ts';
import type { FailedStore } from '../failed/failed-store.ts';
import { PlanRegistry, type PlanLookup } from '../plans/registry.ts';
import { openSourceStore } from '../server.ts';
import { findSource } from '../sources/source-store.ts';

/** Flags every command that opens a store takes. */
export const STORE_FLAGS = {
  'data-dir': { type: 'string' },
  'kafka-brokers': { type: 'string' },
  'database-url': { type: 'string' },
} as const;

export function configFromFlags(values: { 'data-dir'?: string; 'kafka-brokers'?: string; 'database-url'?: string }): Config {
  const args: string[] = [];
  if (values['data-dir']) args.push('--data-dir', values['data-dir']);
  if (values['kafka-brokers']) args.push('--kafka-brokers', values['kafka-brokers']);
  if (values['database-url']) args.push('--database-url', values['database-url']);
  return loadConfig(args);
}

/**
 * The id of the source a `--source` names: its id, or the name of an active source, as `inlet plans`
 * and `inlet sources` take. Stats and failed events are kept by id, so a name matched nothing
 * before, silently. Undefined: no source has it. Where no source store is at hand (Kafka without
 * DATABASE_URL, away from the server's data directory, or a database that cannot be reached) the
 * value is taken as an id.
 */
export async function sourceIdOf(config: Config, value: string): Promise<string | undefined> {
  if (!config.databaseUrl && !existsSync(databaseFile(config.dataDir))) return value;
  const sources = await openSourceStore(config, pino({ level: 'silent' })).catch(() => undefined);
  if (!sources) return value;
  try {
    const found = (await findSource(sources, value))?.id;
    // On Kafka without DATABASE_URL the file found here may not be the server's: it names, it does not refuse.
    return found ?? (config.kafka && !config.databaseUrl ? value : undefined);
  } finally {
    await sources.close();
  }
}

/** Each source's tracking plan, for a replay to check against; undefined where no source store is at hand. */
async function openPlans(config: Config): Promise<{ lookup: PlanLookup | undefined; close(): Promise<void> }> {
  // Kafka without DATABASE_URL: the sources are in the server's embedded file, which may not be here.
  if (!config.databaseUrl && !existsSync(databaseFile(config.dataDir))) {
    console.error(`inlet failed replay: no source store here (no DATABASE_URL, no embedded store in ${config.dataDir}): events are checked without their sources' tracking plans`);
    return { lookup: undefined, close: async () => {} };
  }
  const sources = await openSourceStore(config, pino({ level: 'warn' }));
  const plans = new PlanRegistry(sources.plans);
  try {
    await plans.start();
  } catch (error) {
    await sources.close();
    throw error;
  }
  return { lookup: plans.lookup, close: async () => { plans.close(); await sources.close(); } };
}

/**
 * The failed events of the configured backend. `forReplay` also starts a database writer (the
 * embedded store) with retention and the size cap left to the server, whose settings it may not
 * know; `rechecks` (a replay, dry or not) reads the sources' tracking plans to check events against.
 */
export async function openFailedStore(config: Config, options: { forReplay: boolean; rechecks: boolean }): Promise<FailedStore> {
  if (!config.kafka) openExistingDatabase(config.dataDir).close();
  const plans = options.rechecks ? await openPlans(config) : { lookup: undefined, close: async () => {} };
  if (config.kafka) {
    const { KafkaFailedStore } = await import('../failed/kafka-failed-store.ts');
    const store = new KafkaFailedStore({ ...config.kafka, limits: config.limits, plans: plans.lookup });
    return {
      kind: store.kind,
      list: (...args) => store.list(...args),
      get: (id) => store.get(id),
      replay: (...args) => store.replay(...args),
      close: async () => { await store.close(); await plans.close(); },
    };
  }
  const reader = new DatabaseReader(config.dataDir);
  const writer = options.forReplay ? new DatabaseWriter({ dataDir: config.dataDir, writeTimeoutMs: 60_000, maintain: false }) : undefined;
  const store = new EmbeddedFailedStore({ reader, writer, limits: config.limits, plans: plans.lookup });
  return {
    kind: store.kind,
    list: (...args) => store.list(...args),
    get: (id) => store.get(id),
    replay: (...args) => store.replay(...args),
    close: async () => { await store.close(); await writer?.close(); await plans.close(); },
  };
}
