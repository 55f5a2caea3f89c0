// `npm run bench`: runs the benchmark suites, prints a markdown report and writes it to
// bench/results/<date>.md. See `npm run bench -- --help`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runHttpSuite, type HalfRateMode } from './http/harness.ts';
import { formatOverload, formatOverloadTargets, runOverloadSuite } from './http/overload.ts';
import { formatDelivery, formatHttpTable, formatProblems, formatTargets, mergeRounds } from './http/report.ts';
import { parseServers, SERVER_NAMES, VARIANT_NAMES } from './http/servers.ts';
import { MESSAGE_ID_KINDS, parseWorkloads, type MessageIdKind } from './http/workloads.ts';
import { startBroker, type Broker } from './lib/kafka-broker.ts';
import { warmBroker } from './lib/broker-warmup.ts';
import { PORT_RANGE } from './lib/ports.ts';

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, '..');

const USAGE = `usage: npm run bench -- [options]

  --suite http,overload,browser,node,processor,store,failover,kafka-sink,plans,path-costs,viewer
                                        suites to run (default: every suite whose file exists, not overload)
  --overload-seconds 30                 overload suite: seconds at 2x peak (quick: 10); light phases 10 s (quick: 5)
  --overload-connections 400            overload suite: the open-loop generator's connections
  --duration 15                         measured seconds per HTTP cell
  --warmup 3                            warm-up seconds per HTTP cell
  --connections 50,200                  HTTP concurrency levels
  --workloads W1,W2,W1F                 W1 = /v1/batch x 100 events, W2 = /v1/track x 1, W1F = W1 with 10 of the 100 invalid
                                        (also W1R: W1 from clients that wait as a 503's Retry-After says)
  --servers ${SERVER_NAMES.join(',')}
                                        also: ${VARIANT_NAMES.join(', ')} (lanes mode, zstd, a tracking plan, an older checkout: see bench/http/README.md)
  --half-rate inlet|all|none            also measure latency at half of peak rate (default inlet)
  --rounds 1                            run the whole HTTP matrix this many times; the table shows each cell's median
  --message-ids v7|v4                   messageIds the load carries: v7 as Inlet's SDKs send (default), v4 as Segment's
  --partitions 12                       partitions of each fresh Kafka topic
  --cpu-prof                            run servers with --cpu-prof; summaries go in the report
  --quick                               5 s cells, 1 s warm-up, 50 connections (unless given)
  --out FILE                            report file (default bench/results/<date>.md)

Kafka: uses KAFKA_BROKERS when set, otherwise starts a local broker on port ${PORT_RANGE.kafka}
(scripts/kafka) for the run and stops it afterwards. Redis must run at 127.0.0.1:6379 (reference).`;

/** Suites written by other modules: each exports run(options) and is skipped when absent. */
const EXTERNAL_SUITES: Record<string, string[]> = {
  browser: ['browser-size.ts', 'browser-track.ts'],
  node: ['node-sdk.ts'],
  processor: ['processor.ts'],
  failover: ['processor-failover.ts'],
  'kafka-sink': ['kafka-sink.ts'],
  store: ['embedded-store.ts'],
  plans: ['plan-validation.ts'],
  'path-costs': ['path-costs.ts'],
  viewer: ['viewer-cost.ts'],
};

export interface SuiteOptions {
  quick: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  /** the run's Kafka bootstrap address; starts the local broker on first call */
  kafkaBootstrap(): Promise<string>;
  log(line: string): void;
}

function list(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
}

function positive(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return n;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, Linux ${os.release()}, Node ${process.version}`;
}

async function externalSuite(file: string, options: SuiteOptions): Promise<string> {
  const path = join(BENCH, file);
  if (!existsSync(path)) return `_${file} does not exist yet; skipped._\n`;
  try {
    const mod = (await import(path)) as { run?: (o: SuiteOptions) => Promise<unknown> };
    if (typeof mod.run !== 'function') return `_${file} has no exported run(); skipped._\n`;
    const result = await mod.run(options);
    if (typeof result === 'string') return result;
    if (result && typeof (result as { markdown?: unknown }).markdown === 'string') return (result as { markdown: string }).markdown;
    return result === undefined ? '_(printed its own output)_\n' : `\`\`\`json\n${JSON.stringify(result, null, 2)}\n\`\`\`\n`;
  } catch (error) {
    return `_${file} failed: ${(error as Error).stack ?? error}_\n`;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      suite: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' },
      workloads: { type: 'string' }, servers: { type: 'string' }, 'half-rate': { type: 'string' }, 'message-ids': { type: 'string' }, rounds: { type: 'string' }, partitions: { type: 'string' },
      'overload-seconds': { type: 'string' }, 'overload-connections': { type: 'string' },
      'cpu-prof': { type: 'boolean' }, quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(USAGE); return 0; }

  const quick = values.quick ?? false;
  const durationSeconds = positive(values.duration, quick ? 5 : 15, 'duration');
  const warmupSeconds = values.warmup === '0' ? 0 : positive(values.warmup, quick ? 1 : 3, 'warmup');
  const connections = list(values.connections, quick ? '50' : '50,200').map((c) => positive(c, 0, 'connections'));
  const workloads = parseWorkloads(values.workloads ?? 'W1,W2,W1F');
  const servers = parseServers(values.servers ?? SERVER_NAMES.join(','));
  const halfRate = (values['half-rate'] ?? 'inlet') as HalfRateMode;
  if (!['inlet', 'all', 'none'].includes(halfRate)) throw new Error('--half-rate must be inlet, all or none');
  const messageIds = (values['message-ids'] ?? 'v7') as MessageIdKind;
  if (!MESSAGE_ID_KINDS.includes(messageIds)) throw new Error(`--message-ids must be ${MESSAGE_ID_KINDS.join(' or ')}`);
  const rounds = positive(values.rounds, 1, 'rounds');
  const partitions = positive(values.partitions, 12, 'partitions');
  const available = ['http', ...Object.keys(EXTERNAL_SUITES).filter((s) => EXTERNAL_SUITES[s].some((f) => existsSync(join(BENCH, f))))];
  const suites = values.suite ? list(values.suite, '') : available;
  const internal = ['http', 'overload'];
  for (const s of suites) if (!internal.includes(s) && !EXTERNAL_SUITES[s]) throw new Error(`unknown suite "${s}"`);

  const started = new Date();
  const stamp = started.toISOString().slice(0, 16).replace(':', '-');
  const out = resolve(values.out ?? join(BENCH, 'results', `${stamp}.md`));
  const profileDir = values['cpu-prof'] ? join(BENCH, 'results', `profiles-${stamp}`) : undefined;
  const log = (line: string) => console.error(line);

  let broker: Broker | undefined;
  let brokerStarting: Promise<Broker> | undefined;
  const kafkaBootstrap = async () => {
    brokerStarting ??= (async () => {
      log(process.env.KAFKA_BROKERS ? `Kafka: ${process.env.KAFKA_BROKERS} (KAFKA_BROKERS)` : `Kafka: starting a local broker on ${PORT_RANGE.kafka}…`);
      broker = await startBroker(PORT_RANGE.kafka);
      if (broker.owned) await warmBroker(broker.bootstrap, quick ? 10 : 40, log);
      return broker;
    })();
    return (await brokerStarting).bootstrap;
  };
  const cleanup = async () => { if (broker?.owned) { log('Kafka: stopping the local broker'); await broker.stop(); } };
  const onSignal = () => { void cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const sections: string[] = [
    `# Inlet benchmark — ${started.toISOString().slice(0, 19).replace('T', ' ')} UTC`,
    '',
    `Command: \`${command}\`  `,
    `Machine: ${machine()}  `,
    `Settings: ${durationSeconds} s measured after ${warmupSeconds} s warm-up per cell; a fresh server (and Kafka topic, ${partitions} partitions) per cell; UUID${messageIds} messageIds;${rounds > 1 ? ` ${rounds} rounds of the whole matrix, each cell's median shown;` : ''} load from a separate process (autocannon) on 127.0.0.1.`,
    '',
  ];
  try {
    if (suites.includes('http')) {
      const needsKafka = servers.some((s) => s.needsKafka);
      const cells = await runHttpSuite({ durationSeconds, warmupSeconds, connections, workloads, servers, halfRate, rounds, messageIds, partitions, profileDir, kafkaBootstrap, log });
      const serverOrder = servers.map((s) => s.name);
      // Stable: within a server, workloads and concurrencies keep the order they ran in.
      const medians = mergeRounds(cells).sort((a, b) => serverOrder.indexOf(a.server) - serverOrder.indexOf(b.server));
      sections.push(
        '## HTTP ingestion',
        '',
        'W1 = `POST /v1/batch` with 100 events of ~530 bytes; W2 = `POST /v1/track` with one event; W1F = W1 with every tenth event invalid (no event name), kept in the failed-events store (events/s counts all 100); W1R (when asked for) = W1 from clients that wait as a 503\'s Retry-After says before sending again, as Inlet\'s SDKs do (W1\'s resend at once). events/s and req/s count 2xx responses only; latency is of 2xx responses.',
        'load avg: the machine\'s 1-minute load average at the end of the cell; above ~3 on this 2-core machine, other work competed with the benchmark. CPU stall: share of the measured window in which some task waited for a CPU (Linux PSI, /proc/pressure/cpu); the server, the load generator and a Kafka broker alone can fill 2 cores, so some stall is expected, a lot means the numbers are noisy.',
        'Server CPU is user+system time of the server process (all its threads: main, SQLite writer, checkpointer, libuv pool) over the measured window, in cores; CPU µs/event is that time over the events of the requests answered 2xx (W2: per request; over several rounds, the median of the rounds\'), and in brackets the main thread\'s part of it (HTTP, parsing, preparing; the rest is the sink\'s threads and V8\'s helpers); peak RSS is the larger of the polled RSS and VmHWM.',
        'p99 ms at ½ peak: the p99 of a paced open loop at half of the cell\'s req/s, run right after it; for Inlet, "sink ≤ N" is the server\'s sink write time (`inlet_sink_write_seconds`: from handing a write to the sink until the main thread sees it durable, so at most the sink\'s share) at the p99 over the same measured window, as the bound of its histogram bucket.',
        `vs reference / vs ceiling: events/s relative to the same workload and concurrency. ${needsKafka ? `Kafka: ${broker?.owned ? 'local one-node broker (scripts/kafka)' : 'KAFKA_BROKERS'}, replication factor 1.` : ''}`,
        profileDir ? '\n**Profiled run (--cpu-prof): numbers are lower than an unprofiled run.**' : '',
        '',
        formatHttpTable(medians),
        '',
        formatDelivery(cells),
        '',
        '### Targets (issues 7 and 17)',
        '',
        formatTargets(medians),
        '',
      );
      const problems = formatProblems(cells);
      if (problems) sections.push('### Problems', '', problems, '');
      if (profileDir) sections.push('### CPU profiles', '', ...cells.flatMap((c) => c.profiles), '');
    }
    if (suites.includes('overload')) {
      // Inlet's two sinks unless --servers names others; W1 unless --workloads does.
      const overloadOptions = {
        servers: parseServers(values.servers ?? 'inlet-embedded,inlet-kafka'),
        workloads: parseWorkloads(values.workloads ?? 'W1'),
        connections: connections[0],
        warmupSeconds,
        peakSeconds: durationSeconds,
        overloadSeconds: positive(values['overload-seconds'], quick ? 10 : 30, 'overload-seconds'),
        lightSeconds: quick ? 5 : 10,
        factor: 2,
        overloadConnections: positive(values['overload-connections'], 400, 'overload-connections'),
        messageIds, partitions, profileDir, kafkaBootstrap, log,
      };
      const cells = await runOverloadSuite(overloadOptions);
      sections.push('## Overload (issue 17)', '', formatOverload(cells, overloadOptions), '', '### Targets (issue 17, overload)', '', formatOverloadTargets(cells), '');
      if (profileDir) sections.push('### CPU profiles (overload)', '', ...cells.flatMap((c) => c.profiles), '');
    }
    const suiteOptions: SuiteOptions = { quick, durationSeconds, warmupSeconds, kafkaBootstrap, log };
    for (const suite of suites.filter((s) => !internal.includes(s))) {
      sections.push(`## ${suite}`, '');
      for (const file of EXTERNAL_SUITES[suite]) {
        log(`${suite}: ${file}`);
        sections.push(await externalSuite(file, suiteOptions), '');
      }
    }
  } finally {
    await cleanup();
  }

  const report = sections.join('\n');
  console.log(report);
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, report);
  log(`report written to ${relative(ROOT, out)}`);
  return 0;
}

main().then((code) => { process.exitCode = code; }, (error: Error) => { console.error(error.message); process.exitCode = 1; });
