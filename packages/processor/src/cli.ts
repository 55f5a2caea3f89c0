// `inlet process`: flags and environment → Processor, run until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { describeError } from '@inlet/kafka';
import { Processor } from './processor.ts';
import { PROCESSOR_OPTIONS, type ProcessorOptions } from './options.ts';
import { checkSettings, INVALID_SETTING, invalid } from '@inlet/schema/settings';
import { SASL_MECHANISMS, saslMechanism, saslPassword, saslUsername, securityFrom, tlsCaFile, useTls, type SecuritySettings } from '@inlet/kafka/contract';

export const PROCESSOR_USAGE = `Usage: inlet process [options]

Reads raw events, drops repeats of a (source, messageId) seen within the window, writes each event
once to the output topic (exactly once, through Kafka transactions). Run several to share the
partitions. Repeats are caught within a partition, that is under the same key (userId, else
anonymousId): a repeat sent under another key, such as one re-sent after its user identified, is
not caught.

  --brokers LIST            bootstrap brokers host:port,...            (env KAFKA_BROKERS, required)
  --group ID                consumer group                             (env INLET_PROCESSOR_GROUP, default inlet-processor)
  --input TOPIC             input topic                                (env KAFKA_TOPIC, default raw-events)
  --output TOPIC            output topic                               (env INLET_EVENTS_TOPIC, default events)
  --changelog TOPIC         dedup state topic, created when missing    (default <group>-dedup-changelog)
  --window DURATION         dedup window on receivedAt: 90s, 30m, 1h, or ms  (env INLET_DEDUP_WINDOW, default 1h)
  --max-disorder DURATION   how far out of receivedAt order records may be (default 5m)
  --instance-id ID          unique per running instance, stable across its restarts; also its
                            static group membership: restarted within the session timeout, it
                            takes its partitions back without pausing the others
                                                                       (env INLET_PROCESSOR_INSTANCE_ID, default random)
  --transactional-id-prefix P                                          (default <group>)
  --start-from earliest|latest  where a partition without a committed offset starts (default earliest)
  --max-batch N             input records per transaction              (default 20000)
  --session-timeout MS      how long a dead instance keeps its partitions (default 10000)
  --transaction-timeout MS  broker aborts transactions open longer     (default 10000)
  --metrics-port PORT       serve Prometheus text on /metrics          (env INLET_PROCESSOR_METRICS_PORT)
  --metrics-host HOST       address of /metrics, which has no auth     (env INLET_PROCESSOR_METRICS_HOST, default 127.0.0.1)
                            (0.0.0.0: reachable from elsewhere, as Prometheus scraping a pod needs)
  --log-interval MS         log counts this often, 0 = never           (default 10000)
  --tls true|false          TLS to the brokers, system CAs             (env KAFKA_TLS, default false)
  --tls-ca-file FILE        PEM file of CAs to trust instead; implies TLS  (env KAFKA_TLS_CA_FILE)
  --sasl-mechanism M        ${SASL_MECHANISMS.join('|')}     (env KAFKA_SASL_MECHANISM)
  --sasl-username NAME                                                 (env KAFKA_SASL_USERNAME)
  --sasl-password PASSWORD  never logged; prefer the env var           (env KAFKA_SASL_PASSWORD)
  -h, --help`;

/** Each flag, the option it sets and the env var it falls back to; read with the options' own rules. */
const FLAGS = {
  '--brokers': ['brokers', 'KAFKA_BROKERS'],
  '--group': ['groupId', 'INLET_PROCESSOR_GROUP'],
  '--input': ['inputTopic', 'KAFKA_TOPIC'],
  '--output': ['outputTopic', 'INLET_EVENTS_TOPIC'],
  '--changelog': ['changelogTopic'],
  '--window': ['windowMs', 'INLET_DEDUP_WINDOW'],
  '--max-disorder': ['maxDisorderMs'],
  '--instance-id': ['instanceId', 'INLET_PROCESSOR_INSTANCE_ID'],
  '--transactional-id-prefix': ['transactionalIdPrefix'],
  '--start-from': ['startFrom'],
  '--max-batch': ['maxBatchRecords'],
  '--session-timeout': ['sessionTimeoutMs'],
  '--transaction-timeout': ['transactionTimeoutMs'],
  '--metrics-port': ['metricsPort', 'INLET_PROCESSOR_METRICS_PORT'],
  '--metrics-host': ['metricsHost', 'INLET_PROCESSOR_METRICS_HOST'],
  '--log-interval': ['logIntervalMs'],
} as const satisfies Record<string, readonly [keyof typeof PROCESSOR_OPTIONS, string?]>;

/** TLS and SASL: five flags that make one option, `security`, read with @inlet/kafka's rules, as the server reads them. */
const SECURITY_FLAGS = {
  '--tls': ['tls', 'KAFKA_TLS', useTls],
  '--tls-ca-file': ['tlsCa', 'KAFKA_TLS_CA_FILE', tlsCaFile],
  '--sasl-mechanism': ['saslMechanism', 'KAFKA_SASL_MECHANISM', saslMechanism],
  '--sasl-username': ['saslUsername', 'KAFKA_SASL_USERNAME', saslUsername],
  '--sasl-password': ['saslPassword', 'KAFKA_SASL_PASSWORD', saslPassword],
} as const;

/** Flags win over environment variables; returns undefined when --help was asked for. */
export function parseProcessorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ProcessorOptions | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries([...Object.keys(FLAGS), ...Object.keys(SECURITY_FLAGS)].map((flag) => [flag.slice(2), { type: 'string' as const }]));
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    const flag = /'(-[^']*)'/.exec((error as Error).message)?.[1];
    throw flag ? invalid(flag, 'is not an option (see --help)') : invalid('options', (error as Error).message);
  }
  if (values.help) return undefined;
  // Text, named by flag: the options' rules convert it (durations such as 1h, numbers) and name the flag when it is wrong.
  const spec = Object.fromEntries(Object.entries(FLAGS).map(([flag, [option]]) => [flag, PROCESSOR_OPTIONS[option]]));
  const given = Object.fromEntries(Object.entries(FLAGS).map(([flag, [, envName]]) => [flag, values[flag.slice(2)] ?? (envName === undefined ? undefined : env[envName])]));
  if (given['--brokers'] === undefined) throw invalid('--brokers', '(or KAFKA_BROKERS) is required');
  const read = checkSettings(spec, given, { text: true });
  const options = Object.fromEntries(Object.entries(FLAGS).map(([flag, [option]]) => [option, read[flag]]).filter(([, v]) => v !== undefined)) as unknown as ProcessorOptions;
  const security = readSecurity(values, env);
  return security === undefined ? options : { ...options, security };
}

function readSecurity(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv) {
  const entries = Object.entries(SECURITY_FLAGS);
  const read = checkSettings(
    Object.fromEntries(entries.map(([flag, [, , rule]]) => [flag, rule.optional()])),
    Object.fromEntries(entries.map(([flag, [, envName]]) => [flag, values[flag.slice(2)] ?? env[envName]])),
    { text: true },
  );
  const settings = Object.fromEntries(entries.map(([flag, [setting]]) => [setting, read[flag]])) as SecuritySettings;
  return securityFrom(settings, { saslMechanism: '--sasl-mechanism', saslUsername: '--sasl-username', saslPassword: '--sasl-password' });
}

/** How much longer than its transaction timeout a graceful stop may take before the process exits anyway. */
export const STOP_MARGIN_MS = 10_000;

/** Runs a processor until SIGTERM or SIGINT, then stops it gracefully. Bad flags set exit code 2. */
export async function runProcessorCli(argv: string[]): Promise<void> {
  let processor: Processor;
  try {
    const options = parseProcessorArgs(argv);
    if (!options) {
      console.log(PROCESSOR_USAGE);
      return;
    }
    processor = new Processor(options);
  } catch (error) {
    if ((error as { code?: string }).code !== INVALID_SETTING) throw error;
    console.error(`inlet process: ${(error as Error).message} (${INVALID_SETTING})\n\n${PROCESSOR_USAGE}`);
    process.exitCode = 2;
    return;
  }
  let signalled: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => { signalled = resolve; });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      processor.options.logger.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    processor.options.logger.info('stopping', { signal });
    signalled();
    // Brokers that stop answering would hold a graceful stop for as long as they do (minutes with
    // a frozen broker): past the transaction timeout and a margin, the process exits anyway. Nothing
    // is lost: the open transaction is aborted by the broker, and its input read again by whoever
    // takes the partitions next.
    const limitMs = processor.options.transactionTimeoutMs + STOP_MARGIN_MS;
    setTimeout(() => {
      processor.options.logger.warn('could not stop cleanly in time (brokers not answering); exiting', { afterMs: limitMs });
      process.exit(1);
    }, limitMs).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    try {
      await processor.start();
    } catch (error) {
      // What the brokers said (a wrong password, TLS against a plain listener, none reachable) is
      // the operator's to fix: one line, not the client's nested errors.
      console.error(`inlet process: cannot start: ${describeError(error)}`);
      process.exitCode = 1;
      return;
    }
    await stopRequested;
  } finally {
    await processor.stop();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
