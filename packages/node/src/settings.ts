// Options a host passes to `new ServerAnalytics(...)`, checked once at construction so that a
// misconfiguration fails loudly at startup instead of silently losing events later.
import { checkTopicName, KafkaOptionError, parseBrokers, RAW_EVENTS_TOPIC } from '@inlet/kafka/contract';
import { DEFAULT_LIMITS, type IpPolicy } from '@inlet/schema';

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
  /** one HTTP request's timeout; default 10000 */
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
  | { kind: 'kafka'; brokers: string[]; topic: string; sourceId: string; ipPolicy: IpPolicy; clientId: string; timeoutMs: number };

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

export class SettingsError extends TypeError {
  override name = 'InletSettingsError';
}

/** Room left in a body for `{"batch":[...],"sentAt":"..."}` around the events. */
const ENVELOPE_BYTES = 128;
export const MAX_BATCH_BYTES = DEFAULT_LIMITS.maxBodyBytes - ENVELOPE_BYTES;

function integer(options: ServerAnalyticsOptions, key: keyof ServerAnalyticsOptions, fallback: number, min: number, max: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(`@inlet/node: ${key} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new SettingsError(`@inlet/node: ${what} must be a non-empty string`);
  return value;
}

const IP_POLICIES: readonly IpPolicy[] = ['full', 'anonymize', 'drop'];

/** @inlet/kafka's rules (broker address, topic name), reported as a SettingsError. */
function kafkaRule<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof KafkaOptionError) throw new SettingsError(`@inlet/node: ${error.message}`);
    throw error;
  }
}

function kafkaSettings(options: ServerAnalyticsOptions, kafka: KafkaOptions): TransportSettings {
  if (kafka === null || typeof kafka !== 'object') throw new SettingsError('@inlet/node: kafka must be { brokers, sourceId, ... }');
  const brokers = kafkaRule(() => parseBrokers(kafka.brokers, 'kafka.brokers'));
  const sourceId = nonEmpty(kafka.sourceId ?? options.sourceId, 'kafka.sourceId (or sourceId)');
  const ipPolicy = kafka.ipPolicy ?? 'drop';
  if (!IP_POLICIES.includes(ipPolicy)) throw new SettingsError(`@inlet/node: kafka.ipPolicy must be one of ${IP_POLICIES.join(', ')}`);
  const timeoutMs = kafka.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new SettingsError('@inlet/node: kafka.timeoutMs must be an integer ≥ 100');
  return {
    kind: 'kafka',
    brokers,
    topic: kafkaRule(() => checkTopicName(kafka.topic ?? RAW_EVENTS_TOPIC, 'kafka.topic')),
    sourceId,
    ipPolicy,
    clientId: nonEmpty(kafka.clientId ?? '@inlet/node', 'kafka.clientId'),
    timeoutMs,
  };
}

function httpSettings(options: ServerAnalyticsOptions, maxInFlight: number): TransportSettings {
  const writeKey = nonEmpty(options.writeKey, 'writeKey');
  const raw = nonEmpty(options.endpoint, 'endpoint (or kafka)');
  let endpoint: URL;
  try {
    endpoint = new URL(raw);
  } catch {
    throw new SettingsError(`@inlet/node: endpoint is not a URL: ${raw}`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new SettingsError(`@inlet/node: endpoint must be http: or https: (got ${endpoint.protocol})`);
  }
  if (options.gzip !== undefined && typeof options.gzip !== 'boolean') throw new SettingsError('@inlet/node: gzip must be a boolean');
  return {
    kind: 'http',
    endpoint,
    writeKey,
    requestTimeoutMs: integer(options, 'requestTimeoutMs', 10_000, 100, 600_000),
    gzip: options.gzip ?? true,
    gzipLevel: integer(options, 'gzipLevel', 1, 1, 9),
    maxInFlight,
  };
}

function appInfo(app: AppInfo | undefined): AppInfo | undefined {
  if (app !== undefined && (app === null || typeof app !== 'object')) throw new SettingsError('@inlet/node: app must be { name?, version? }');
  const name = app?.name;
  const version = app?.version ?? process.env.APP_VERSION;
  if (name !== undefined && typeof name !== 'string') throw new SettingsError('@inlet/node: app.name must be a string');
  if (version !== undefined && typeof version !== 'string') throw new SettingsError('@inlet/node: app.version must be a string');
  if (name === undefined && (version === undefined || version === '')) return undefined;
  const info: AppInfo = {};
  if (name !== undefined) info.name = name;
  if (version !== undefined && version !== '') info.version = version;
  return info;
}

export function resolveSettings(options: ServerAnalyticsOptions): Settings {
  if (options === null || typeof options !== 'object') throw new SettingsError('@inlet/node: options must be an object');
  if (options.kafka !== undefined && options.endpoint !== undefined) {
    throw new SettingsError('@inlet/node: give either endpoint (HTTP) or kafka, not both');
  }
  const maxInFlight = integer(options, 'maxInFlight', 4, 1, 64);
  const minRetryDelayMs = integer(options, 'minRetryDelayMs', 100, 1, 60_000);
  const maxRetryDelayMs = integer(options, 'maxRetryDelayMs', 30_000, minRetryDelayMs, 3_600_000);
  return {
    transport: options.kafka !== undefined ? kafkaSettings(options, options.kafka) : httpSettings(options, maxInFlight),
    flushIntervalMs: integer(options, 'flushIntervalMs', 1000, 1, 3_600_000),
    maxBatchSize: integer(options, 'maxBatchSize', 500, 1, DEFAULT_LIMITS.maxBatchEvents),
    maxBatchBytes: integer(options, 'maxBatchBytes', MAX_BATCH_BYTES, 1024, MAX_BATCH_BYTES),
    maxQueueSize: integer(options, 'maxQueueSize', 10_000, 1, 10_000_000),
    maxQueueBytes: integer(options, 'maxQueueBytes', 64 * 1024 * 1024, 64 * 1024, 4 * 1024 * 1024 * 1024),
    maxEventBytes: integer(options, 'maxEventBytes', DEFAULT_LIMITS.maxEventBytes, 256, DEFAULT_LIMITS.maxEventBytes),
    maxRetries: integer(options, 'maxRetries', 10, 0, 1000),
    minRetryDelayMs,
    maxRetryDelayMs,
    maxInFlight,
    app: appInfo(options.app),
  };
}
