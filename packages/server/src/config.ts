// Configuration from env vars and command-line flags, validated once at start. A wrong value stops
// the server with a message naming the setting.
import { checkCompression, checkTopicName, COMPRESSIONS, KafkaOptionError, parseBrokers, FAILED_EVENTS_TOPIC, RAW_EVENTS_TOPIC, SEND_MODES, type Compression, type SendMode } from '@inlet/kafka/contract';
import { DEFAULT_LIMITS } from '@inlet/schema';
import { BlockList, isIP } from 'node:net';
import { resolve } from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  kafka?: {
    brokers: string[];
    topic: string;
    failedTopic: string;
    clientId: string;
    lingerMs: number;
    compression: Compression;
    /** benchmark only (INLET_BENCH_KAFKA_SEND_MODE): how the sink keeps produce requests in flight */
    sendMode?: SendMode;
  };
  /** how long a request waits for the sink before it gets 503 */
  sinkTimeoutMs: number;
  /** events admitted ahead of the sink are bounded by its measured rate times this (sinks/sink-backpressure.ts) */
  sinkMaxQueueMs: number;
  redisUrl?: string;
  databaseUrl?: string;
  rateLimit: { requestsPerMinute: number; eventsPerMinute: number };
  /** per client address, for requests without a valid write key: tokens regained per second, and the most held */
  unauthenticated: { perSecond: number; burst: number };
  limits: { maxEventBytes: number; maxBatchEvents: number; maxBodyBytes: number };
  /** peers whose X-Forwarded-For is believed */
  trustedProxies: string[];
  /** shared with @inlet/node collect proxies: their signed x-inlet-client-ip is believed */
  proxySecret?: string;
  /** the admin listener: admin API and /metrics, behind the admin token */
  admin: { host: string; port: number };
  /** also serve /metrics, without a token, on the public port */
  metricsOnPublicPort: boolean;
  /** the failed-events store's bounds: entries older than retentionDays go, and the oldest beyond maxBytes */
  failed: { retentionDays: number; maxBytes: number };
  /** how long a client may take on the public port (ms): see connection-bounds.ts */
  timeouts: { headersMs: number; bodyMs: number; requestMs: number; keepAliveMs: number };
  /** what the public port holds at once: open connections, bytes of bodies being read (admission.ts) */
  admission: { maxConnections: number; maxBodyBytesInFlight: number };
  /** SIGTERM: how long in-flight requests may take before what is left is closed (ms) */
  shutdownDrainMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** stable, for scripts: every wrong setting is INLET_INVALID_SETTING, and `setting` names it */
  readonly code = 'INLET_INVALID_SETTING';
  readonly setting: string | undefined;

  constructor(message: string, setting?: string) {
    super(message);
    this.setting = setting ?? /^[A-Z][A-Z0-9_]+(?= )/.exec(message)?.[0];
  }
}

interface Setting {
  env: string;
  flag: string;
  help: string;
}

/** Every setting, for --help and the README's table. */
export const SETTINGS: Setting[] = [
  { env: 'PORT', flag: '--port', help: 'port to listen on (default 8080)' },
  { env: 'HOST', flag: '--host', help: 'address to bind (default 0.0.0.0)' },
  { env: 'INLET_DATA_DIR', flag: '--data-dir', help: 'embedded store directory (default ./.inlet)' },
  { env: 'LOG_LEVEL', flag: '--log-level', help: 'fatal|error|warn|info|debug|trace|silent (default info)' },
  { env: 'KAFKA_BROKERS', flag: '--kafka-brokers', help: 'comma-separated host:port list; selects the Kafka sink' },
  { env: 'KAFKA_TOPIC', flag: '--kafka-topic', help: `topic for accepted events (default ${RAW_EVENTS_TOPIC})` },
  { env: 'KAFKA_FAILED_TOPIC', flag: '--kafka-failed-topic', help: `topic for failed events (default ${FAILED_EVENTS_TOPIC})` },
  { env: 'KAFKA_CLIENT_ID', flag: '--kafka-client-id', help: 'Kafka client id (default inlet-server)' },
  { env: 'KAFKA_LINGER_MS', flag: '--kafka-linger-ms', help: 'how long to gather concurrent requests into one produce (default 0)' },
  { env: 'KAFKA_COMPRESSION', flag: '--kafka-compression', help: `${COMPRESSIONS.join('|')} (default lz4; zstd packs events tighter for more CPU)` },
  { env: 'SINK_TIMEOUT_MS', flag: '--sink-timeout-ms', help: 'longest wait for the sink before a 503 (default 5000)' },
  { env: 'SINK_MAX_QUEUE_MS', flag: '--sink-max-queue-ms', help: 'admit only what the sink, at its measured rate, makes durable within this; the excess gets 503 at once (default 1000)' },
  { env: 'REDIS_URL', flag: '--redis-url', help: 'share rate limits between instances through Redis' },
  { env: 'DATABASE_URL', flag: '--database-url', help: 'PostgreSQL URL for sources shared by instances' },
  { env: 'RATE_LIMIT_REQUESTS_PER_MINUTE', flag: '--rate-limit-requests', help: 'requests per write key per minute (default 60000)' },
  { env: 'RATE_LIMIT_EVENTS_PER_MINUTE', flag: '--rate-limit-events', help: 'events per write key per minute (default 1000000)' },
  { env: 'UNAUTHENTICATED_RATE_PER_SECOND', flag: '--unauthenticated-rate', help: 'requests per second a client address may make without a valid write key, after its burst (default 10)' },
  { env: 'UNAUTHENTICATED_BURST', flag: '--unauthenticated-burst', help: 'requests without a valid write key a client address may make at once (default 100); past it, 429' },
  { env: 'MAX_EVENT_BYTES', flag: '--max-event-bytes', help: `largest event as stored (default ${DEFAULT_LIMITS.maxEventBytes})` },
  { env: 'MAX_BATCH_EVENTS', flag: '--max-batch-events', help: `most events in one request (default ${DEFAULT_LIMITS.maxBatchEvents})` },
  { env: 'MAX_BODY_BYTES', flag: '--max-body-bytes', help: `largest request body, after gunzip (default ${DEFAULT_LIMITS.maxBodyBytes})` },
  { env: 'TRUSTED_PROXIES', flag: '--trusted-proxies', help: 'comma-separated IPs/CIDRs whose X-Forwarded-For is believed' },
  { env: 'INLET_PROXY_SECRET', flag: '--proxy-secret', help: 'secret shared with @inlet/node collect proxies (16+ chars); their signed client address is believed' },
  { env: 'ADMIN_HOST', flag: '--admin-host', help: 'address of the admin listener (admin API, /metrics) (default 127.0.0.1)' },
  { env: 'ADMIN_PORT', flag: '--admin-port', help: 'port of the admin listener (default 8081)' },
  { env: 'METRICS_ON_PUBLIC_PORT', flag: '--metrics-on-public-port', help: 'true: also serve /metrics on the public port, without a token (default false)' },
  { env: 'FAILED_RETENTION_DAYS', flag: '--failed-retention-days', help: 'days failed events are kept (default 7)' },
  { env: 'FAILED_MAX_BYTES', flag: '--failed-max-bytes', help: 'most bytes of failed events kept; the oldest go first (default 1073741824)' },
  { env: 'HEADERS_TIMEOUT_MS', flag: '--headers-timeout-ms', help: 'a request\'s headers must arrive within this, or 408 and the connection is closed (default 10000)' },
  { env: 'BODY_TIMEOUT_MS', flag: '--body-timeout-ms', help: 'a request\'s body must arrive within this once its headers have, or 408 (default 30000)' },
  { env: 'REQUEST_TIMEOUT_MS', flag: '--request-timeout-ms', help: 'the whole request, headers and body, must arrive within this (default 45000; at least HEADERS_TIMEOUT_MS)' },
  { env: 'KEEP_ALIVE_TIMEOUT_MS', flag: '--keep-alive-timeout-ms', help: 'an idle keep-alive connection is closed after this (default 65000, above load balancers\' 60 s)' },
  { env: 'MAX_CONNECTIONS', flag: '--max-connections', help: 'open connections on the public port; beyond it new ones are closed at once (default 10000)' },
  { env: 'MAX_BODY_BYTES_IN_FLIGHT', flag: '--max-body-bytes-in-flight', help: 'bytes of request bodies being read at once; beyond it 503 with Retry-After (default 67108864: 128 bodies of the largest size, thousands of typical ones)' },
  { env: 'SHUTDOWN_DRAIN_MS', flag: '--shutdown-drain-ms', help: 'SIGTERM: in-flight requests get this long, then what is left is closed and the server exits (default 10000)' },
];

/** Flags win over env vars. Unknown flags are an error, not silently ignored. */
export function readSettings(argv: string[], env: NodeJS.ProcessEnv): Map<string, string> {
  const values = new Map<string, string>();
  for (const s of SETTINGS) if (env[s.env] !== undefined && env[s.env] !== '') values.set(s.env, env[s.env]!);
  for (let i = 0; i < argv.length; i++) {
    // Only the first "=" separates: values such as URLs with query strings contain more.
    const eq = argv[i].indexOf('=');
    const flag = eq < 0 ? argv[i] : argv[i].slice(0, eq);
    const inline = eq < 0 ? undefined : argv[i].slice(eq + 1);
    const setting = SETTINGS.find((s) => s.flag === flag);
    if (!setting) throw new ConfigError(`unknown option ${flag} (see --help)`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    values.set(setting.env, value);
  }
  return values;
}

function integer(values: Map<string, string>, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = values.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`, name);
  return n;
}

function oneOf<T extends string>(values: Map<string, string>, name: string, choices: readonly T[], fallback: T): T {
  const raw = values.get(name) ?? fallback;
  if (!choices.includes(raw as T)) throw new ConfigError(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
  return raw as T;
}

function url(values: Map<string, string>, name: string, protocols: string[]): string | undefined {
  const raw = values.get(name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try { parsed = new URL(raw); } catch { throw new ConfigError(`${name} is not a valid URL`); }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(`${name} must use ${protocols.join(' or ')}`);
  return raw;
}

function boolean(values: Map<string, string>, name: string, fallback: boolean): boolean {
  const raw = values.get(name);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function list(values: Map<string, string>, name: string): string[] {
  return (values.get(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** @inlet/kafka's rules (broker address, topic name, compression), reported as a ConfigError. */
function kafkaRule<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof KafkaOptionError) throw new ConfigError(error.message);
    throw error;
  }
}

function brokers(values: Map<string, string>): string[] | undefined {
  if (list(values, 'KAFKA_BROKERS').length === 0) return undefined;
  return kafkaRule(() => parseBrokers(values.get('KAFKA_BROKERS'), 'KAFKA_BROKERS'));
}

/** Not a setting: lets the benchmark run the sink's 'lanes' mode against the default. */
function benchSendMode(env: NodeJS.ProcessEnv): SendMode {
  const raw = env.INLET_BENCH_KAFKA_SEND_MODE || 'pipelined';
  if (!(SEND_MODES as readonly string[]).includes(raw)) throw new ConfigError(`INLET_BENCH_KAFKA_SEND_MODE must be one of ${SEND_MODES.join(', ')}, got "${raw}"`);
  return raw as SendMode;
}

function proxies(values: Map<string, string>): string[] {
  const all = list(values, 'TRUSTED_PROXIES');
  for (const p of all) {
    const [address, bits] = p.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    if (!family || (bits !== undefined && !(Number.isInteger(Number(bits)) && Number(bits) >= 0 && Number(bits) <= maxBits))) {
      throw new ConfigError(`TRUSTED_PROXIES entry "${p}" must be an IP address or CIDR`);
    }
  }
  return all;
}

function secret(values: Map<string, string>, name: string): string | undefined {
  const raw = values.get(name);
  // The value itself never goes into the message.
  if (raw !== undefined && raw.length < 16) throw new ConfigError(`${name} must be at least 16 characters long (a random one: openssl rand -base64 32)`);
  return raw;
}

export function loadConfig(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): Config {
  const v = readSettings(argv, env);
  const kafkaBrokers = brokers(v);
  const config: Config = {
    port: integer(v, 'PORT', 8080, 0, 65535),
    host: v.get('HOST') ?? '0.0.0.0',
    dataDir: resolve(v.get('INLET_DATA_DIR') ?? '.inlet'),
    logLevel: oneOf(v, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    kafka: kafkaBrokers && {
      brokers: kafkaBrokers,
      topic: kafkaRule(() => checkTopicName(v.get('KAFKA_TOPIC') ?? RAW_EVENTS_TOPIC, 'KAFKA_TOPIC')),
      failedTopic: kafkaRule(() => checkTopicName(v.get('KAFKA_FAILED_TOPIC') ?? FAILED_EVENTS_TOPIC, 'KAFKA_FAILED_TOPIC')),
      clientId: v.get('KAFKA_CLIENT_ID') ?? 'inlet-server',
      lingerMs: integer(v, 'KAFKA_LINGER_MS', 0, 0, 1000),
      compression: kafkaRule(() => checkCompression(v.get('KAFKA_COMPRESSION') ?? 'lz4', 'KAFKA_COMPRESSION')),
      sendMode: benchSendMode(env),
    },
    sinkTimeoutMs: integer(v, 'SINK_TIMEOUT_MS', 5000, 100, 120_000),
    sinkMaxQueueMs: integer(v, 'SINK_MAX_QUEUE_MS', 1000, 10, 60_000),
    redisUrl: url(v, 'REDIS_URL', ['redis:', 'rediss:']),
    databaseUrl: url(v, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    rateLimit: {
      requestsPerMinute: integer(v, 'RATE_LIMIT_REQUESTS_PER_MINUTE', 60_000, 1),
      eventsPerMinute: integer(v, 'RATE_LIMIT_EVENTS_PER_MINUTE', 1_000_000, 1),
    },
    unauthenticated: {
      perSecond: integer(v, 'UNAUTHENTICATED_RATE_PER_SECOND', 10, 1, 1_000_000),
      burst: integer(v, 'UNAUTHENTICATED_BURST', 100, 1, 1_000_000),
    },
    limits: {
      maxEventBytes: integer(v, 'MAX_EVENT_BYTES', DEFAULT_LIMITS.maxEventBytes, 256),
      maxBatchEvents: integer(v, 'MAX_BATCH_EVENTS', DEFAULT_LIMITS.maxBatchEvents, 1),
      maxBodyBytes: integer(v, 'MAX_BODY_BYTES', DEFAULT_LIMITS.maxBodyBytes, 1024),
    },
    trustedProxies: proxies(v),
    proxySecret: secret(v, 'INLET_PROXY_SECRET'),
    admin: { host: v.get('ADMIN_HOST') ?? '127.0.0.1', port: integer(v, 'ADMIN_PORT', 8081, 0, 65535) },
    metricsOnPublicPort: boolean(v, 'METRICS_ON_PUBLIC_PORT', false),
    failed: {
      retentionDays: integer(v, 'FAILED_RETENTION_DAYS', 7, 1, 3650),
      maxBytes: integer(v, 'FAILED_MAX_BYTES', 1024 ** 3, 65_536),
    },
    timeouts: {
      headersMs: integer(v, 'HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      bodyMs: integer(v, 'BODY_TIMEOUT_MS', 30_000, 100, 600_000),
      requestMs: integer(v, 'REQUEST_TIMEOUT_MS', 45_000, 100, 1_200_000),
      keepAliveMs: integer(v, 'KEEP_ALIVE_TIMEOUT_MS', 65_000, 100, 3_600_000),
    },
    admission: {
      maxConnections: integer(v, 'MAX_CONNECTIONS', 10_000, 1, 1_000_000),
      maxBodyBytesInFlight: integer(v, 'MAX_BODY_BYTES_IN_FLIGHT', 64 * 1024 * 1024, 1024),
    },
    shutdownDrainMs: integer(v, 'SHUTDOWN_DRAIN_MS', 10_000, 0, 600_000),
  };
  const { headersMs, requestMs } = config.timeouts;
  // Node refuses a headers timeout above the whole-request one; say which setting to change.
  if (headersMs > requestMs) throw new ConfigError(`REQUEST_TIMEOUT_MS (${requestMs}) must be at least HEADERS_TIMEOUT_MS (${headersMs})`, 'REQUEST_TIMEOUT_MS');
  if (config.admission.maxBodyBytesInFlight < config.limits.maxBodyBytes) {
    throw new ConfigError(`MAX_BODY_BYTES_IN_FLIGHT (${config.admission.maxBodyBytesInFlight}) must be at least MAX_BODY_BYTES (${config.limits.maxBodyBytes}), or the largest allowed body could never be read`, 'MAX_BODY_BYTES_IN_FLIGHT');
  }
  if (config.port !== 0 && config.port === config.admin.port) throw new ConfigError(`ADMIN_PORT must differ from PORT (both are ${config.port})`);
  return config;
}

/** For tests and embedding: defaults, then overrides. */
export function configWith(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig([], {}), ...overrides };
}

export function trustedProxyList(entries: string[]): BlockList {
  const blocks = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) blocks.addAddress(address, type);
    else blocks.addSubnet(address, Number(bits), type);
  }
  return blocks;
}
