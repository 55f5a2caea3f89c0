// Options a host passes to `new ServerAnalytics(...)`, checked once at construction by the settings
// kit (@inlet/schema/settings) so that a misconfiguration fails loudly at startup
// (InvalidSettingError, INLET_INVALID_SETTING, naming the option) instead of silently losing events later.
import { brokerList, kafkaSecurity, RAW_EVENTS_TOPIC, topicName, type KafkaSecurity } from '@inlet/kafka/contract';
import { DEFAULT_LIMITS, type IpPolicy } from '@inlet/schema';
import { boolean, checkSettings, integer, invalid, InvalidSettingError, object, oneOf, text, url } from '@inlet/schema/settings';

export interface KafkaOptions {
  /** `host:port` list, or a comma-separated string as in KAFKA_BROKERS */
  brokers: string[] | string;
  /** default `raw-events`, the topic the server's Kafka sink writes */
  topic?: string;
  /** the source the events are attributed to (the server derives it from the write key) */
  sourceId?: string;
  /** applied to `context.ip`; default `drop` (a back end's own address is not the user's) */
  ipPolicy?: IpPolicy;
  clientId?: string;
  /** per-request timeout of the Kafka client, ms */
  timeoutMs?: number;
  /** TLS (`{ tls: {} }`, or `{ tls: { ca } }` with a PEM string) and SASL (`{ sasl: { mechanism: 'scram-sha-512', username, password } }`), as managed Kafka asks */
  security?: KafkaSecurity;
}

export interface AppInfo {
  name?: string;
  version?: string;
}

export interface ServerAnalyticsOptions {
  /** required for the HTTP transport */
  writeKey?: string;
  /** base URL of an Inlet server, e.g. `http://127.0.0.1:8080`; the SDK posts to `{endpoint}/v1/batch` */
  endpoint?: string;
  /** produce straight to Kafka instead of going through a server */
  kafka?: KafkaOptions;
  /** source id for the Kafka transport (same as `kafka.sourceId`) */
  sourceId?: string;
  /** a partly filled batch is sent after this long; default 1000 */
  flushIntervalMs?: number;
  /** events per batch; default 500, at most 1000 (the server's limit) */
  maxBatchSize?: number;
  /** uncompressed bytes per batch; default and maximum just under the server's 500 KB */
  maxBatchBytes?: number;
  /** events held (queued, in flight or waiting to retry); beyond it new events are dropped; default 10000 */
  maxQueueSize?: number;
  /** bytes held, as a second bound for large events; default 64 MB */
  maxQueueBytes?: number;
  /** an event whose JSON is larger is dropped at track() time; default and maximum 32 KB */
  maxEventBytes?: number;
  /** retries of one batch after its first attempt; default 10 */
  maxRetries?: number;
  /** first retry delay (before jitter), doubled each attempt; default 100 */
  minRetryDelayMs?: number;
  /** ceiling of the retry delay; default 30000 */
  maxRetryDelayMs?: number;
  /** batches sent concurrently over HTTP; default 4 (the Kafka transport sends one at a time) */
  maxInFlight?: number;
  /** longest one HTTP request may take, until the response's last byte; default 10000 */
  requestTimeoutMs?: number;
  /** gzip request bodies; default true */
  gzip?: boolean;
  /** zlib level 1-9; default 1 (JSON compresses well even at the fastest level) */
  gzipLevel?: number;
  /** `context.app`; version falls back to env APP_VERSION */
  app?: AppInfo;
}

export type TransportSettings =
  | { kind: 'http'; endpoint: URL; writeKey: string; requestTimeoutMs: number; gzip: boolean; gzipLevel: number; maxInFlight: number }
  | { kind: 'kafka'; brokers: string[]; topic: string; sourceId: string; ipPolicy: IpPolicy; clientId: string; timeoutMs: number; security?: KafkaSecurity };

export interface Settings {
  transport: TransportSettings;
  flushIntervalMs: number;
  maxBatchSize: number;
  maxBatchBytes: number;
  maxQueueSize: number;
  maxQueueBytes: number;
  maxEventBytes: number;
  maxRetries: number;
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
  maxInFlight: number;
  app: AppInfo | undefined;
}

/** The error every bad option throws (`code` INLET_INVALID_SETTING, `setting` its name). */
export { InvalidSettingError };

/** Room left in a body for `{"batch":[...],"sentAt":"..."}` around the events. */
const ENVELOPE_BYTES = 128;
export const MAX_BATCH_BYTES = DEFAULT_LIMITS.maxBodyBytes - ENVELOPE_BYTES;

const LABEL = '@inlet/node';

const KAFKA = {
  brokers: brokerList,
  topic: topicName.default(RAW_EVENTS_TOPIC),
  sourceId: text().optional(),
  ipPolicy: oneOf(['full', 'anonymize', 'drop'] as const satisfies readonly IpPolicy[]).default('drop'),
  clientId: text().default('@inlet/node'),
  timeoutMs: integer(100, 600_000).default(10_000),
  security: kafkaSecurity.optional(),
};

const APP = { name: text().optional(), version: text().optional() };

const OPTIONS = {
  // secret: a wrong write key is never repeated in the message
  writeKey: text({ secret: true }).optional(),
  endpoint: url(['http:', 'https:'], 'an http: or https: URL (the Inlet server, e.g. http://127.0.0.1:8080)').optional(),
  kafka: object(KAFKA, '{ brokers, sourceId, ... }').optional(),
  sourceId: text().optional(),
  flushIntervalMs: integer(1, 3_600_000).default(1000),
  maxBatchSize: integer(1, DEFAULT_LIMITS.maxBatchEvents).default(500),
  maxBatchBytes: integer(1024, MAX_BATCH_BYTES).default(MAX_BATCH_BYTES),
  maxQueueSize: integer(1, 10_000_000).default(10_000),
  maxQueueBytes: integer(64 * 1024, 4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  maxEventBytes: integer(1024, DEFAULT_LIMITS.maxEventBytes).default(DEFAULT_LIMITS.maxEventBytes),
  maxRetries: integer(0, 1000).default(10),
  minRetryDelayMs: integer(1, 60_000).default(100),
  maxRetryDelayMs: integer(1, 3_600_000).default(30_000),
  maxInFlight: integer(1, 64).default(4),
  requestTimeoutMs: integer(100, 600_000).default(10_000),
  gzip: boolean().default(true),
  gzipLevel: integer(1, 9).default(1),
  app: object(APP, '{ name?, version? }').optional(),
};

function appInfo(app: { name?: string; version?: string } | undefined): AppInfo | undefined {
  const name = app?.name;
  const version = app?.version ?? process.env.APP_VERSION;
  if (name === undefined && (version === undefined || version === '')) return undefined;
  const info: AppInfo = {};
  if (name !== undefined) info.name = name;
  if (version !== undefined && version !== '') info.version = version;
  return info;
}

export function resolveSettings(options: ServerAnalyticsOptions): Settings {
  const o = checkSettings(OPTIONS, options as unknown as Record<string, unknown>, { label: LABEL });
  if (o.kafka !== undefined && o.endpoint !== undefined) throw invalid('endpoint', 'and kafka: give one (HTTP to a server, or Kafka), not both', LABEL);
  if (o.maxRetryDelayMs < o.minRetryDelayMs) throw invalid('maxRetryDelayMs', `must be at least minRetryDelayMs (${o.minRetryDelayMs}), got ${o.maxRetryDelayMs}`, LABEL);
  let transport: TransportSettings;
  if (o.kafka) {
    const sourceId = o.kafka.sourceId ?? o.sourceId;
    if (sourceId === undefined) throw invalid('kafka.sourceId', '(or sourceId) is required: the source the events are attributed to', LABEL);
    const { security, ...kafka } = o.kafka;
    transport = { kind: 'kafka', ...kafka, sourceId, ...(security && { security }) };
  } else {
    if (o.endpoint === undefined) throw invalid('endpoint', '(or kafka) is required', LABEL);
    if (o.writeKey === undefined) throw invalid('writeKey', 'is required for the HTTP transport', LABEL);
    transport = { kind: 'http', endpoint: new URL(o.endpoint), writeKey: o.writeKey, requestTimeoutMs: o.requestTimeoutMs, gzip: o.gzip, gzipLevel: o.gzipLevel, maxInFlight: o.maxInFlight };
  }
  return {
    transport,
    flushIntervalMs: o.flushIntervalMs,
    maxBatchSize: o.maxBatchSize,
    maxBatchBytes: o.maxBatchBytes,
    maxQueueSize: o.maxQueueSize,
    maxQueueBytes: o.maxQueueBytes,
    maxEventBytes: o.maxEventBytes,
    maxRetries: o.maxRetries,
    minRetryDelayMs: o.minRetryDelayMs,
    maxRetryDelayMs: o.maxRetryDelayMs,
    maxInFlight: o.maxInFlight,
    app: appInfo(o.app),
  };
}
