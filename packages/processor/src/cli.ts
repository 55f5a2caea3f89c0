// `inlet process`: flags and environment → Processor, run until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { Processor } from './processor.ts';
import { ProcessorOptionsError, type ProcessorOptions } from './options.ts';

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
  --metrics-host HOST       (default 0.0.0.0)
  --log-interval MS         log counts this often, 0 = never           (default 10000)
  -h, --help`;

export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new ProcessorOptionsError(`${flag} must be a duration like 500ms, 90s, 30m, 1h or a number of ms, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms']!;
  return Math.round(Number(match[1]) * unit);
}

function integer(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new ProcessorOptionsError(`${flag} must be an integer, got ${JSON.stringify(text)}`);
  return n;
}

/** Flags win over environment variables; returns undefined when --help was asked for. */
export function parseProcessorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ProcessorOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        brokers: { type: 'string' },
        group: { type: 'string' },
        input: { type: 'string' },
        output: { type: 'string' },
        changelog: { type: 'string' },
        window: { type: 'string' },
        'max-disorder': { type: 'string' },
        'instance-id': { type: 'string' },
        'transactional-id-prefix': { type: 'string' },
        'start-from': { type: 'string' },
        'max-batch': { type: 'string' },
        'session-timeout': { type: 'string' },
        'transaction-timeout': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        'log-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new ProcessorOptionsError((error as Error).message);
  }
  if (values.help) return undefined;
  const brokers = values.brokers ?? env.KAFKA_BROKERS;
  if (!brokers) throw new ProcessorOptionsError('--brokers (or KAFKA_BROKERS) is required');
  const window = values.window ?? env.INLET_DEDUP_WINDOW;
  const startFrom = values['start-from'];
  if (startFrom !== undefined && startFrom !== 'earliest' && startFrom !== 'latest') throw new ProcessorOptionsError(`--start-from must be earliest or latest, got ${JSON.stringify(startFrom)}`);
  return {
    brokers,
    groupId: values.group ?? env.INLET_PROCESSOR_GROUP,
    inputTopic: values.input ?? env.KAFKA_TOPIC,
    outputTopic: values.output ?? env.INLET_EVENTS_TOPIC,
    changelogTopic: values.changelog,
    windowMs: window === undefined ? undefined : parseDuration(window, '--window'),
    maxDisorderMs: values['max-disorder'] === undefined ? undefined : parseDuration(values['max-disorder'], '--max-disorder'),
    instanceId: values['instance-id'] ?? env.INLET_PROCESSOR_INSTANCE_ID,
    transactionalIdPrefix: values['transactional-id-prefix'],
    startFrom,
    maxBatchRecords: integer(values['max-batch'], '--max-batch'),
    sessionTimeoutMs: integer(values['session-timeout'], '--session-timeout'),
    transactionTimeoutMs: integer(values['transaction-timeout'], '--transaction-timeout'),
    metricsPort: integer(values['metrics-port'] ?? env.INLET_PROCESSOR_METRICS_PORT, '--metrics-port'),
    metricsHost: values['metrics-host'],
    logIntervalMs: integer(values['log-interval'], '--log-interval'),
  };
}

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
    if (!(error instanceof ProcessorOptionsError)) throw error;
    console.error(`inlet process: ${error.message}\n\n${PROCESSOR_USAGE}`);
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
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await processor.start();
    await stopRequested;
  } finally {
    await processor.stop();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
