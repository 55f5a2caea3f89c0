import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaSecurityFromEnv, loadConfig, SETTINGS } from './config.ts';
import { checkSettings, integer, INVALID_SETTING } from '@inlet/schema/settings';
import { brokerList } from '@inlet/kafka/contract';
import { openSourceStore, startServer } from './server.ts';
import { announceStart } from './start-banner.ts';
import { readStoredEvents } from './db/reader.ts';
import { DamagedDatabaseError, databaseFile, NoDatabaseError } from './db/database.ts';
import { NewerDatabaseError } from './db/migrations.ts';
import { SourceStoreUnavailableError } from './errors.ts';
import { findSource, InvalidSourceError, IP_POLICIES, SOURCE_KINDS, SourceNameTakenError, type Source } from './sources/source-store.ts';
import { pino } from 'pino';
import { adminCommand } from './commands/admin-token.ts';
import { backupCommand } from './commands/backup.ts';
import { failedCommand } from './commands/failed.ts';
import { plansCommand } from './commands/plans.ts';
import { statsCommand } from './commands/stats.ts';
import type { IpPolicy } from '@inlet/schema';

const USAGE = `Usage: inlet <command> [options]

Commands:
  serve                     run the ingestion server (what npm start runs)
  tail [--follow]           print stored events as NDJSON (embedded store)
  sources create --name N   create a source and print its write key [--kind browser|server] [--ip-policy full|anonymize|drop]
  sources list [--json]     list sources (--json: an array of {id, name, kind, ipPolicy, createdAt, revokedAt}; keys are not kept, only their hashes)
  sources rename <id> --name N
                            rename a source (names are unique among active sources)
  sources rotate-key <id|name>
                            give a source a new write key and print it; the old one stops working
  sources revoke <id|name>  revoke a source's write key
  failed list|show|replay   failed events: list them, show one, replay them once fixed
  plans put|get|history|delete|infer|typegen
                            tracking plans: per-source JSON Schemas for events, flagged or blocked
  stats [--since 1h]        per source: received = stored + failed + duplicate
  admin token --rotate      make a new admin token (for the admin API) and print it
  backup <file>             a consistent copy of the embedded store, while the server runs
  topics create             create the Kafka topics (needs KAFKA_BROKERS)
  process                   run the deduplicating processor (raw-events -> events)

Run "inlet <command> --help" for a command's options.`;

const SERVE_HELP = `Usage: inlet serve [options]

Every option can also be given as an environment variable:
${SETTINGS.map((s) => `  ${s.flag.padEnd(24)} ${s.env.padEnd(32)} ${s.help}`).join('\n')}`;

async function serve(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { console.log(SERVE_HELP); return 0; }
  const config = loadConfig(argv);
  const server = await startServer(config);
  const facts = { config, url: server.url, adminUrl: server.admin.url, adminToken: server.adminToken, writeKey: server.defaultSource?.writeKey };
  announceStart(facts, { isTerminal: process.stdout.isTTY === true, logger: server.app.log });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      // A second signal (Ctrl-C reaching both npm and Node, a supervisor that repeats itself) must
      // not end the drain with the signal's default action: the drain is bounded by
      // SHUTDOWN_DRAIN_MS already, and SIGKILL stops at once for whoever means it.
      if (stopping) {
        server.app.log.warn({ signal }, 'already shutting down: in-flight requests get SHUTDOWN_DRAIN_MS; SIGKILL stops at once');
        return;
      }
      stopping = true;
      server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      server.close().then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

async function tail(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { follow: { type: 'boolean', short: 'f' }, help: { type: 'boolean', short: 'h' }, 'data-dir': { type: 'string' } } });
  if (values.help) { console.log('Usage: inlet tail [--follow] [--data-dir DIR]\nPrints the events in the embedded store as NDJSON, oldest first.'); return 0; }
  const dataDir = loadConfig(values['data-dir'] ? ['--data-dir', values['data-dir']] : []).dataDir;
  if (!existsSync(databaseFile(dataDir))) {
    console.error(`inlet tail: no Inlet store in ${dataDir} (${databaseFile(dataDir)} does not exist); check --data-dir or INLET_DATA_DIR`);
    return 1;
  }
  let after = 0;
  for (;;) {
    const rows = readStoredEvents(dataDir, after);
    for (const row of rows) process.stdout.write(`${JSON.stringify(row.record)}\n`);
    if (rows.length) after = rows[rows.length - 1].seq;
    if (rows.length === 10_000) continue;
    if (!values.follow) return 0;
    await sleep(500);
  }
}

const SOURCES_HELP = `Usage: inlet sources create --name NAME [--kind browser|server] [--ip-policy full|anonymize|drop] [--json]
       inlet sources list [--json]
       inlet sources rename <id> --name NAME
       inlet sources rotate-key <id|name> [--json]
       inlet sources revoke <id|name>

A write key is printed when it is made (create, rotate-key) and never again: the store keeps only
its SHA-256. rotate-key makes a new key for an active source; the old key stops working on every
running server within 5 s, as a revoked one does.

Names are unique among active sources. --kind server keeps a context.ip the client sends (back ends
forwarding their end user's address); browser (the default) always uses the connection's address.
list --json prints an array of {id, name, kind, ipPolicy, createdAt, revokedAt}.
Uses DATABASE_URL (or --database-url) when set, the embedded store (--data-dir) otherwise.`;

function sourceLine(s: Source): string {
  return [s.id, s.name.padEnd(16), s.kind.padEnd(7), s.ipPolicy.padEnd(9), s.revokedAt ? `revoked ${s.revokedAt}` : 'active'].join('  ');
}

async function sources(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
    name: { type: 'string' }, kind: { type: 'string' }, 'ip-policy': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, 'data-dir': { type: 'string' }, 'database-url': { type: 'string' },
  } });
  if (values.help || !action || action === '--help' || action === '-h') { console.log(SOURCES_HELP); return action ? 0 : 2; }
  if (!['create', 'list', 'rename', 'rotate-key', 'revoke'].includes(action)) { console.error(`unknown sources command "${action}"\n${SOURCES_HELP}`); return 2; }
  const kind = values.kind ?? 'browser';
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) { console.error(`--kind must be ${SOURCE_KINDS.join(' or ')}`); return 2; }
  const policy = values['ip-policy'] ?? 'full';
  if (!(IP_POLICIES as readonly string[]).includes(policy)) { console.error(`--ip-policy must be ${IP_POLICIES.join(', ')}`); return 2; }
  if ((action === 'create' || action === 'rename') && !values.name?.trim()) { console.error(`sources ${action} needs --name`); return 2; }
  if (action === 'rename' && !positionals[0]) { console.error('sources rename needs a source id'); return 2; }
  if ((action === 'rotate-key' || action === 'revoke') && !positionals[0]) { console.error(`sources ${action} needs a source id or name`); return 2; }

  const configArgs = [...(values['data-dir'] ? ['--data-dir', values['data-dir']] : []), ...(values['database-url'] ? ['--database-url', values['database-url']] : [])];
  const config = loadConfig(configArgs);
  const store = await openSourceStore(config, pino({ level: 'warn' }));
  try {
    if (action === 'create') {
      const source = await store.create({ name: values.name!, kind: kind as Source['kind'], ipPolicy: policy as IpPolicy });
      console.log(values.json ? JSON.stringify(source) : `created source ${source.id} "${source.name}" (${source.kind})\nwrite key: ${source.writeKey} (shown this once: only its hash is kept)`);
      return 0;
    }
    if (action === 'list') {
      const all = await store.list();
      if (values.json) console.log(JSON.stringify(all));
      else for (const s of all) console.log(sourceLine(s));
      return 0;
    }
    const id = positionals[0];
    if (action === 'rename') {
      const renamed = await store.rename(id, values.name!);
      if (!renamed) { console.error(`no source with id ${id}`); return 1; }
      console.log(values.json ? JSON.stringify(renamed) : `renamed ${id} to "${renamed.name}"`);
      return 0;
    }
    const target = await findSource(store, id);
    if (!target || target.revokedAt) { console.error(`no active source with id or name "${id}"`); return 1; }
    if (action === 'rotate-key') {
      const rotated = await store.rotateKey(target.id);
      if (!rotated) { console.error(`no active source with id or name "${id}"`); return 1; }
      console.log(values.json ? JSON.stringify(rotated) : `new key for source ${rotated.id} "${rotated.name}"\nwrite key: ${rotated.writeKey} (shown this once: only its hash is kept)\nthe old key stops working on running servers within 5 s`);
      return 0;
    }
    if (!(await store.revoke(target.id))) { console.error(`no active source with id or name "${id}"`); return 1; }
    console.log(`revoked ${target.id} "${target.name}"; running servers refuse its key within 5 s`);
    return 0;
  } catch (error) {
    if (error instanceof SourceNameTakenError || error instanceof InvalidSourceError) {
      console.error(`inlet sources ${action}: ${error.message}`);
      return error instanceof InvalidSourceError ? 2 : 1;
    }
    throw error;
  } finally {
    await store.close();
  }
}

async function topics(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: {
    partitions: { type: 'string', default: '12' }, 'replication-factor': { type: 'string', default: '1' }, 'min-insync-replicas': { type: 'string' },
    topic: { type: 'string', multiple: true }, brokers: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  } });
  const help = 'Usage: inlet topics create [--brokers host:port,...] [--topic NAME ...] [--partitions 12] [--replication-factor 1] [--min-insync-replicas N]\n(default min.insync.replicas: 2 with 3 or more replicas, else 1)\nCreates raw-events, events and failed-events (or the --topic names; KAFKA_TOPIC and KAFKA_FAILED_TOPIC rename the first and last).\nfailed-events gets retention.ms from FAILED_RETENTION_DAYS and retention.bytes from FAILED_MAX_BYTES / partitions, with segments a quarter of each (at least 1 h and 1 MiB) so that Kafka can apply them.\nExisting topics are left as they are.\nTLS and SASL as the server takes them: KAFKA_TLS, KAFKA_TLS_CA_FILE, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (env).';
  const wantsHelp = values.help || action === '--help' || action === '-h';
  if (wantsHelp || action !== 'create') { console.log(help); return wantsHelp ? 0 : 2; }
  const flags = checkSettings({ '--brokers': brokerList, '--partitions': integer(1, 1_000_000), '--replication-factor': integer(1, 1000), '--min-insync-replicas': integer(1, 1000).optional() }, {
    '--brokers': values.brokers || process.env.KAFKA_BROKERS, '--partitions': values.partitions, '--replication-factor': values['replication-factor'], '--min-insync-replicas': values['min-insync-replicas'],
  }, { text: true });
  const partitions = flags['--partitions'];
  const { createTopics, EVENTS_TOPIC, FAILED_EVENTS_TOPIC, RAW_EVENTS_TOPIC } = await import('@inlet/kafka');
  const { failed } = loadConfig([], process.env);
  const security = kafkaSecurityFromEnv(process.env);
  const failedTopic = process.env.KAFKA_FAILED_TOPIC || FAILED_EVENTS_TOPIC;
  const names = values.topic ?? [process.env.KAFKA_TOPIC || RAW_EVENTS_TOPIC, EVENTS_TOPIC, failedTopic];
  // Failed events are bounded on Kafka by the topic itself: FAILED_RETENTION_DAYS and FAILED_MAX_BYTES
  // (split over partitions). Kafka deletes whole segments and never the one being written, whose
  // default is 1 GiB or 7 days: segments of a quarter of each bound (at least Kafka's minimums, 1 MiB
  // and 1 h) make the bounds hold within a quarter.
  const retentionMs = failed.retentionDays * 86_400_000;
  const retentionBytes = Math.ceil(failed.maxBytes / partitions);
  const topicConfigs = {
    [failedTopic]: {
      'retention.ms': String(retentionMs),
      'retention.bytes': String(retentionBytes),
      'segment.ms': String(Math.max(3_600_000, Math.floor(retentionMs / 4))),
      'segment.bytes': String(Math.min(1024 ** 3, Math.max(1024 ** 2, Math.floor(retentionBytes / 4)))),
    },
  };
  let existing: { topic: string; partitions: number }[];
  try {
    // Unless asked: one replica may be down and writes go on, but an acknowledged write is on two
    // (with 3 or more replicas). Set on the topic, so an older broker whose default exceeds the
    // replication factor cannot make every acks=all write fail.
    const replicationFactor = flags['--replication-factor'];
    const minInsyncReplicas = flags['--min-insync-replicas'] ?? Math.max(1, Math.min(2, replicationFactor - 1));
    ({ existing } = await createTopics({ brokers: flags['--brokers'], security, topics: names, partitions, replicationFactor, minInsyncReplicas, topicConfigs }));
  } catch (error) {
    // What the brokers said (a replication factor above the broker count, no broker reachable)
    // is the operator's to fix: createTopics puts it in its message; one line, not a stack trace.
    console.error(`inlet topics create: ${(error as Error).message}`);
    return (error as { code?: string }).code === INVALID_SETTING ? 2 : 1;
  }
  // Left as they are: say so, and what differs from what was asked, rather than seem to have applied it.
  for (const { topic, partitions: has } of existing) {
    console.log(`${topic} already existed: left as it is (${has} partitions${has === partitions ? '' : `, not the ${partitions} asked`}${topic === failedTopic ? '; its retention was not changed' : ''})`);
  }
  console.log(`topics ready: ${names.join(', ')}`);
  return 0;
}

async function processEvents(argv: string[]): Promise<number> {
  const { runProcessorCli } = await import('@inlet/processor');
  await runProcessorCli(argv);
  return Number(process.exitCode ?? 0);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': return await serve(rest);
      case 'tail': return await tail(rest);
      case 'sources': return await sources(rest);
      case 'topics': return await topics(rest);
      case 'failed': return await failedCommand(rest);
      case 'plans': return await plansCommand(rest);
      case 'stats': return await statsCommand(rest);
      case 'admin': return await adminCommand(rest);
      case 'backup': return await backupCommand(rest);
      case 'process': return await processEvents(rest);
      case undefined: case '--help': case '-h': case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    // parseArgs: an unknown flag, a flag without its value (or a value it takes none for), a stray word.
    if (code === INVALID_SETTING || code?.startsWith('ERR_PARSE_ARGS_')) {
      console.error(`inlet ${command}: ${(error as Error).message}${code === INVALID_SETTING ? ` (${code})` : ''}`);
      return 2;
    }
    const { syscall, address, port, hostname } = error as { syscall?: string; address?: string; port?: number; hostname?: string };
    // serve binds HOST and ADMIN_HOST by name; one that does not resolve is a setting to fix.
    if (command === 'serve' && syscall === 'getaddrinfo') {
      let publicHost: string | undefined;
      try { publicHost = loadConfig(rest).host; } catch { /* settings were checked before listening */ }
      // The public listener is bound first: a name both settings share failed there.
      const which = hostname === publicHost ? 'HOST or --host' : 'ADMIN_HOST or --admin-host';
      console.error(`inlet ${command}: cannot listen on "${hostname}": no such address (${code}); check ${which}`);
      return 1;
    }
    if (syscall === 'listen') {
      let adminPort: number | undefined;
      try { adminPort = loadConfig(rest).admin.port; } catch { /* the listener that failed was the public one */ }
      const which = port === adminPort ? 'ADMIN_PORT or --admin-port' : 'PORT or --port';
      console.error(`inlet ${command}: cannot listen on ${address}:${port} (${code === 'EADDRINUSE' ? 'already in use' : code}); choose another with ${which}`);
      return 1;
    }
    if (error instanceof NoDatabaseError || error instanceof DamagedDatabaseError || error instanceof NewerDatabaseError) {
      console.error(`inlet ${command}: ${error.message}`);
      return 1;
    }
    // A source store that cannot be reached or used (DATABASE_URL's database down, missing, or
    // refusing Inlet's user) is the operator's to fix too: where and why, in one line.
    if (error instanceof SourceStoreUnavailableError) {
      const setting = error.message.startsWith('PostgreSQL') ? ' (DATABASE_URL or --database-url)' : '';
      console.error(`inlet ${command}: ${error.message}${setting}`);
      return 1;
    }
    // Other system errors (a data directory that cannot be created, say) are the operator's to fix:
    // one line that names the path beats a stack trace.
    if (syscall !== undefined) {
      console.error(`inlet ${command}: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  }
}
