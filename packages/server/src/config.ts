// Configuration from env vars and command-line flags, validated once at start by the settings kit
// (@inlet/schema/settings): each setting is declared once below — its flag, its help and its rule —
// and a wrong value stops the server with one line naming it (InvalidSettingError,
// INLET_INVALID_SETTING).
import {
  brokerList, compression, COMPRESSIONS, FAILED_EVENTS_TOPIC, MAX_PRODUCE_BYTES, RAW_EVENTS_TOPIC, SASL_MECHANISMS, saslMechanism, saslPassword, saslUsername, securityFrom, sendMode, tlsCaFile, topicName, useTls,
  type Compression, type KafkaSecurity, type SendMode,
} from '@inlet/kafka/contract';
import { ADDED_BYTES_ALLOWANCE, DEFAULT_LIMITS } from '@inlet/schema';
import { boolean, checkSettings, integer, invalid, InvalidSettingError, list, oneOf, refuse, rule, text, then, url, type Rule, type Settings } from '@inlet/schema/settings';
import { BlockList, isIP } from 'node:net';
import { resolve } from 'node:path';

export { InvalidSettingError };

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
    /** TLS and SASL to the brokers; undefined: plaintext, no authentication */
    security?: KafkaSecurity;
  };
  /** how long a request waits for the sink before it gets 503 */
  sinkTimeoutMs: number;
  /** events admitted ahead of the sink are bounded by its measured rate times this (sinks/sink-backpressure.ts) */
  sinkMaxQueueMs: number;
  redisUrl?: string;
  databaseUrl?: string;
  /** addressPercent: the share of a browser source's budgets one client address may use */
  rateLimit: { requestsPerMinute: number; eventsPerMinute: number; addressPercent: number };
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
  /** the failed-events store's bounds: entries older than retentionDays go, and beyond maxBytes the oldest of the source holding the most */
  failed: { retentionDays: number; maxBytes: number };
  /** how long a client may take on the public port (ms): see connection-bounds.ts */
  timeouts: { headersMs: number; bodyMs: number; requestMs: number; keepAliveMs: number };
  /** what the public port holds at once: open connections, bytes of bodies being read (admission.ts) */
  admission: { maxConnections: number; maxBodyBytesInFlight: number };
  /** SIGTERM: how long in-flight requests may take before what is left is closed (ms) */
  shutdownDrainMs: number;
}

interface Definition<T> {
  flag: string;
  help: string;
  rule: Rule<T>;
}

const define = <T>(flag: string, rule: Rule<T>, help: string): Definition<T> => ({ flag, rule, help });

const cidr = rule((v) => {
  const [address, bits] = String(v).split('/');
  const family = isIP(address);
  const maxBits = family === 6 ? 128 : 32;
  if (!family || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) refuse('must be an IP address or CIDR');
  return String(v);
});

/**
 * With Kafka every record must fit one produce request (MAX_PRODUCE_BYTES, under the brokers' 1 MiB):
 * a refused body is kept as one failed event holding its bytes, as base64 (4/3 of them) when they
 * are not UTF-8, with 16 KiB for the rest of the entry. Accepted events may take more room than
 * their body; the sink splits those over several produce requests.
 */
export const MAX_KAFKA_BODY_BYTES = Math.floor(((MAX_PRODUCE_BYTES - 16 * 1024) * 3) / 4);
/** An event's record with what the server adds, its key (an id of up to 512 characters) and headers. */
const MAX_KAFKA_EVENT_BYTES = MAX_PRODUCE_BYTES - ADDED_BYTES_ALLOWANCE - 4096;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const host = text({ pattern: /^\S+$/, expects: 'an address without spaces' });

/** Every setting: its env var, its flag, its rule (with the default), and its line in --help and the README. */
const DEFINITIONS = {
  PORT: define('--port', integer(0, 65535).default(8080), 'port to listen on (default 8080)'),
  HOST: define('--host', host.default('0.0.0.0'), 'address to bind (default 0.0.0.0)'),
  INLET_DATA_DIR: define('--data-dir', then(text().default('.inlet'), (dir) => resolve(dir)), 'embedded store directory (default ./.inlet)'),
  LOG_LEVEL: define('--log-level', oneOf(LOG_LEVELS).default('info'), `${LOG_LEVELS.join('|')} (default info)`),
  KAFKA_BROKERS: define('--kafka-brokers', brokerList.optional(), 'comma-separated host:port list; selects the Kafka sink'),
  KAFKA_TOPIC: define('--kafka-topic', topicName.default(RAW_EVENTS_TOPIC), `topic for accepted events (default ${RAW_EVENTS_TOPIC})`),
  KAFKA_FAILED_TOPIC: define('--kafka-failed-topic', topicName.default(FAILED_EVENTS_TOPIC), `topic for failed events (default ${FAILED_EVENTS_TOPIC})`),
  KAFKA_CLIENT_ID: define('--kafka-client-id', text().default('inlet-server'), 'Kafka client id (default inlet-server)'),
  KAFKA_LINGER_MS: define('--kafka-linger-ms', integer(0, 1000).default(0), 'how long to gather concurrent requests into one produce (default 0)'),
  KAFKA_COMPRESSION: define('--kafka-compression', compression.default('lz4'), `${COMPRESSIONS.join('|')} (default lz4; zstd packs events tighter for more CPU)`),
  KAFKA_TLS: define('--kafka-tls', useTls.default(false), 'true: TLS to the brokers, trusting the system CAs (default false)'),
  KAFKA_TLS_CA_FILE: define('--kafka-tls-ca-file', tlsCaFile.optional(), 'PEM file of the CAs to trust instead of the system ones (read at start); implies KAFKA_TLS'),
  KAFKA_SASL_MECHANISM: define('--kafka-sasl-mechanism', saslMechanism.optional(), `SASL authentication to the brokers: ${SASL_MECHANISMS.join('|')}; needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`),
  KAFKA_SASL_USERNAME: define('--kafka-sasl-username', saslUsername.optional(), 'SASL user name'),
  KAFKA_SASL_PASSWORD: define('--kafka-sasl-password', saslPassword.optional(), 'SASL password (never logged; prefer the env var to the flag, which ps shows)'),
  SINK_TIMEOUT_MS: define('--sink-timeout-ms', integer(100, 120_000).default(5000), 'longest wait for the sink before a 503 (default 5000)'),
  SINK_MAX_QUEUE_MS: define('--sink-max-queue-ms', integer(10, 60_000).default(1000), 'admit only what the sink, at its measured rate, makes durable within this; the excess gets 503 at once (default 1000)'),
  REDIS_URL: define('--redis-url', url(['redis:', 'rediss:']).optional(), 'share rate limits between instances through Redis'),
  DATABASE_URL: define('--database-url', url(['postgres:', 'postgresql:']).optional(), 'PostgreSQL URL for sources shared by instances'),
  RATE_LIMIT_REQUESTS_PER_MINUTE: define('--rate-limit-requests', integer(1).default(60_000), 'requests per write key per minute (default 60000)'),
  RATE_LIMIT_EVENTS_PER_MINUTE: define('--rate-limit-events', integer(1).default(1_000_000), 'events per write key per minute (default 1000000)'),
  RATE_LIMIT_ADDRESS_PERCENT: define('--rate-limit-address-percent', integer(1, 100).default(10), 'per cent of a browser source\'s request and event budgets one client address may use, never fewer events than MAX_BATCH_EVENTS (default 10; 100: no limit of its own)'),
  UNAUTHENTICATED_RATE_PER_SECOND: define('--unauthenticated-rate', integer(1, 1_000_000).default(10), 'requests per second a client address may make without a valid write key, after its burst (default 10)'),
  UNAUTHENTICATED_BURST: define('--unauthenticated-burst', integer(1, 1_000_000).default(100), 'requests without a valid write key a client address may make at once (default 100); past it, 429'),
  MAX_EVENT_BYTES: define('--max-event-bytes', integer(256).default(DEFAULT_LIMITS.maxEventBytes), `largest event as sent (default ${DEFAULT_LIMITS.maxEventBytes}); its stored record may be up to 1 KB larger with what the server adds`),
  MAX_BATCH_EVENTS: define('--max-batch-events', integer(1).default(DEFAULT_LIMITS.maxBatchEvents), `most events in one request (default ${DEFAULT_LIMITS.maxBatchEvents})`),
  MAX_BODY_BYTES: define('--max-body-bytes', integer(1024).default(DEFAULT_LIMITS.maxBodyBytes), `largest request body, after gunzip (default ${DEFAULT_LIMITS.maxBodyBytes}; at most ${MAX_KAFKA_BODY_BYTES} with the Kafka sink: a refused body is kept in one record, and the brokers take at most 1 MiB)`),
  TRUSTED_PROXIES: define('--trusted-proxies', list(cidr).default([]), 'comma-separated IPs/CIDRs whose X-Forwarded-For (and, for the console cookie, X-Forwarded-Proto) is believed'),
  // secret: the value never goes into the message.
  INLET_PROXY_SECRET: define('--proxy-secret', text({ minLength: 16, secret: true, expects: 'at least 16 characters long (a random one: openssl rand -base64 32)' }).optional(), 'secret shared with @inlet/node collect proxies (16+ chars); their signed client address is believed'),
  ADMIN_HOST: define('--admin-host', host.default('127.0.0.1'), 'address of the admin listener (admin API, /metrics) (default 127.0.0.1)'),
  ADMIN_PORT: define('--admin-port', integer(0, 65535).default(8081), 'port of the admin listener (default 8081)'),
  METRICS_ON_PUBLIC_PORT: define('--metrics-on-public-port', boolean().default(false), 'true: also serve /metrics on the public port, without a token (default false)'),
  FAILED_RETENTION_DAYS: define('--failed-retention-days', integer(1, 3650).default(7), 'days failed events are kept (default 7)'),
  FAILED_MAX_BYTES: define('--failed-max-bytes', integer(65_536).default(1024 ** 3), 'most bytes of failed events kept; past it the source holding the most loses its oldest first (default 1073741824)'),
  HEADERS_TIMEOUT_MS: define('--headers-timeout-ms', integer(100, 600_000).default(10_000), 'a request\'s headers must arrive within this, or 408 and the connection is closed (default 10000)'),
  BODY_TIMEOUT_MS: define('--body-timeout-ms', integer(100, 600_000).default(30_000), 'a request\'s body must arrive within this once its headers have, or 408 (default 30000)'),
  REQUEST_TIMEOUT_MS: define('--request-timeout-ms', integer(100, 1_200_000).default(45_000), 'the whole request, headers and body, must arrive within this (default 45000; at least HEADERS_TIMEOUT_MS)'),
  KEEP_ALIVE_TIMEOUT_MS: define('--keep-alive-timeout-ms', integer(100, 3_600_000).default(65_000), 'an idle keep-alive connection is closed after this (default 65000, above load balancers\' 60 s)'),
  MAX_CONNECTIONS: define('--max-connections', integer(1, 1_000_000).default(10_000), 'open connections on the public port; beyond it new ones are closed at once (default 10000)'),
  MAX_BODY_BYTES_IN_FLIGHT: define('--max-body-bytes-in-flight', integer(1024).default(64 * 1024 * 1024), 'bytes of request bodies being read or waiting to be parsed at once; beyond it 503 with Retry-After (default 67108864: 128 bodies of the largest size, thousands of typical ones)'),
  SHUTDOWN_DRAIN_MS: define('--shutdown-drain-ms', integer(0, 600_000).default(10_000), 'SIGTERM: in-flight requests get this long, then what is left is closed and the server exits (default 10000)'),
};

type Definitions = typeof DEFINITIONS;
const SPEC = Object.fromEntries(Object.entries(DEFINITIONS).map(([env, d]) => [env, d.rule])) as { [K in keyof Definitions]: Definitions[K]['rule'] };

/** Every setting, for --help and the README's table. */
export const SETTINGS: { env: string; flag: string; help: string }[] = Object.entries(DEFINITIONS).map(([env, d]) => ({ env, flag: d.flag, help: d.help }));

/** Not a setting: lets the benchmark run the sink's 'lanes' mode against the default. */
const BENCH = { INLET_BENCH_KAFKA_SEND_MODE: sendMode.default('pipelined') };

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
    if (!setting) throw invalid(flag, 'is not an option (see --help)');
    const value = inline ?? argv[++i];
    // A flag where the value should be: this one's value is missing. (Taken as its value, the
    // words after would be misread, and a secret among them quoted as "not an option".)
    if (value === undefined || (inline === undefined && SETTINGS.some((s) => s.flag === value.split('=')[0]))) throw invalid(flag, 'needs a value');
    values.set(setting.env, value);
  }
  return values;
}

export function loadConfig(argv: string[] = [], env: NodeJS.ProcessEnv = process.env): Config {
  const v: Settings<typeof SPEC> = checkSettings(SPEC, Object.fromEntries(readSettings(argv, env)), { text: true });
  const bench = checkSettings(BENCH, { INLET_BENCH_KAFKA_SEND_MODE: env.INLET_BENCH_KAFKA_SEND_MODE }, { text: true });
  const config: Config = {
    port: v.PORT,
    host: v.HOST,
    dataDir: v.INLET_DATA_DIR,
    logLevel: v.LOG_LEVEL,
    kafka: v.KAFKA_BROKERS && {
      brokers: v.KAFKA_BROKERS,
      topic: v.KAFKA_TOPIC,
      failedTopic: v.KAFKA_FAILED_TOPIC,
      clientId: v.KAFKA_CLIENT_ID,
      lingerMs: v.KAFKA_LINGER_MS,
      compression: v.KAFKA_COMPRESSION,
      sendMode: bench.INLET_BENCH_KAFKA_SEND_MODE,
      security: securityOf(v),
    },
    sinkTimeoutMs: v.SINK_TIMEOUT_MS,
    sinkMaxQueueMs: v.SINK_MAX_QUEUE_MS,
    redisUrl: v.REDIS_URL,
    databaseUrl: v.DATABASE_URL,
    rateLimit: { requestsPerMinute: v.RATE_LIMIT_REQUESTS_PER_MINUTE, eventsPerMinute: v.RATE_LIMIT_EVENTS_PER_MINUTE, addressPercent: v.RATE_LIMIT_ADDRESS_PERCENT },
    unauthenticated: { perSecond: v.UNAUTHENTICATED_RATE_PER_SECOND, burst: v.UNAUTHENTICATED_BURST },
    limits: { maxEventBytes: v.MAX_EVENT_BYTES, maxBatchEvents: v.MAX_BATCH_EVENTS, maxBodyBytes: v.MAX_BODY_BYTES },
    trustedProxies: v.TRUSTED_PROXIES,
    proxySecret: v.INLET_PROXY_SECRET,
    admin: { host: v.ADMIN_HOST, port: v.ADMIN_PORT },
    metricsOnPublicPort: v.METRICS_ON_PUBLIC_PORT,
    failed: { retentionDays: v.FAILED_RETENTION_DAYS, maxBytes: v.FAILED_MAX_BYTES },
    timeouts: { headersMs: v.HEADERS_TIMEOUT_MS, bodyMs: v.BODY_TIMEOUT_MS, requestMs: v.REQUEST_TIMEOUT_MS, keepAliveMs: v.KEEP_ALIVE_TIMEOUT_MS },
    admission: { maxConnections: v.MAX_CONNECTIONS, maxBodyBytesInFlight: v.MAX_BODY_BYTES_IN_FLIGHT },
    shutdownDrainMs: v.SHUTDOWN_DRAIN_MS,
  };
  const { headersMs, requestMs } = config.timeouts;
  // Node refuses a headers timeout above the whole-request one; say which setting to change.
  if (headersMs > requestMs) throw invalid('REQUEST_TIMEOUT_MS', `(${requestMs}) must be at least HEADERS_TIMEOUT_MS (${headersMs})`);
  if (config.admission.maxBodyBytesInFlight < config.limits.maxBodyBytes) {
    throw invalid('MAX_BODY_BYTES_IN_FLIGHT', `(${config.admission.maxBodyBytesInFlight}) must be at least MAX_BODY_BYTES (${config.limits.maxBodyBytes}), or the largest allowed body could never be read`);
  }
  if (config.port !== 0 && config.port === config.admin.port) throw invalid('ADMIN_PORT', `must differ from PORT (both are ${config.port})`);
  // An event's record may take ADDED_BYTES_ALLOWANCE more than the limit; each is one Kafka record.
  if (config.kafka && config.limits.maxEventBytes > MAX_KAFKA_EVENT_BYTES) {
    throw invalid('MAX_EVENT_BYTES', `(${config.limits.maxEventBytes}) can be at most ${MAX_KAFKA_EVENT_BYTES} with the Kafka sink: each event is one record, which Kafka refuses over 1 MiB`);
  }
  if (config.kafka && config.limits.maxBodyBytes > MAX_KAFKA_BODY_BYTES) {
    throw invalid('MAX_BODY_BYTES', `(${config.limits.maxBodyBytes}) can be at most ${MAX_KAFKA_BODY_BYTES} with the Kafka sink: a refused body is kept as one record, which Kafka refuses over 1 MiB`);
  }
  return config;
}

const SECURITY_SETTINGS = ['KAFKA_TLS', 'KAFKA_TLS_CA_FILE', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const;

function securityOf(v: Pick<Settings<typeof SPEC>, (typeof SECURITY_SETTINGS)[number]>): KafkaSecurity | undefined {
  return securityFrom(
    { tls: v.KAFKA_TLS, tlsCa: v.KAFKA_TLS_CA_FILE, saslMechanism: v.KAFKA_SASL_MECHANISM, saslUsername: v.KAFKA_SASL_USERNAME, saslPassword: v.KAFKA_SASL_PASSWORD },
    { saslMechanism: 'KAFKA_SASL_MECHANISM', saslUsername: 'KAFKA_SASL_USERNAME', saslPassword: 'KAFKA_SASL_PASSWORD' },
  );
}

/** TLS and SASL from the env alone, for a command that takes its brokers elsewhere (`inlet topics create --brokers`). */
export function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaSecurity | undefined {
  const spec = Object.fromEntries(SECURITY_SETTINGS.map((name) => [name, SPEC[name]])) as Pick<typeof SPEC, (typeof SECURITY_SETTINGS)[number]>;
  return securityOf(checkSettings(spec, Object.fromEntries(SECURITY_SETTINGS.map((name) => [name, env[name]])), { text: true }));
}

/** For tests and embedding: defaults, then overrides. */
export function configWith(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig([], {}), ...overrides };
}

export function trustedProxyList(entries: string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const blocks = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) blocks.addAddress(address, type);
    else blocks.addSubnet(address, Number(bits), type);
  }
  return blocks;
}
