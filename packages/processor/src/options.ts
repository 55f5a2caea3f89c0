// The processor's options: what can be set, the defaults, and validation done once at construction.
import { randomUUID } from 'node:crypto';
import { changelogTopic, checkTopicName, EVENTS_TOPIC, isTopicName, KafkaOptionError, parseBrokers, PROCESSOR_GROUP, RAW_EVENTS_TOPIC } from '@inlet/kafka/contract';

export interface ProcessorLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ProcessorOptions {
  /** bootstrap brokers, as an array or a comma-separated "host:port,host:port" string */
  brokers: string[] | string;
  /** consumer group shared by every instance (default 'inlet-processor') */
  groupId?: string;
  inputTopic?: string;
  outputTopic?: string;
  /** the topic holding the dedup state (default `<groupId>-dedup-changelog`) */
  changelogTopic?: string;
  /** create the changelog topic when it is missing (default true) */
  createChangelog?: boolean;
  /** retention of changelog entries (default windowMs + 24 h: a restart within that keeps its memory) */
  changelogRetentionMs?: number;
  /** duplicates are looked for within this span of receivedAt (default 1 h) */
  windowMs?: number;
  /**
   * How far out of receivedAt order one partition's records may be (server clocks, sink
   * buffering), and how far ahead of this machine's clock a receivedAt may move the window
   * (default 5 min). Memory holds window + this much.
   */
  maxDisorderMs?: number;
  /** transactional ids are `${transactionalIdPrefix}-${instanceId}` (default groupId) */
  transactionalIdPrefix?: string;
  /**
   * Names this instance; must be unique among running instances and should stay the same across
   * restarts of one instance, so the restarted one fences its predecessor's open transaction at
   * once instead of after transactionTimeoutMs. Default: a random id.
   */
  instanceId?: string;
  /** where to start when the group has no committed offset for a partition (default 'earliest') */
  startFrom?: 'earliest' | 'latest';
  /** upper bound of input records per transaction (default 20000) */
  maxBatchRecords?: number;
  fetchMaxBytes?: number;
  partitionMaxBytes?: number;
  fetchMaxWaitMs?: number;
  /** the broker aborts a transaction left open longer than this (default 10 s) */
  transactionTimeoutMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  /** serve Prometheus text on this port (0 = any free port; undefined = no server) */
  metricsPort?: number;
  metricsHost?: string;
  /** log counts this often (0 = never; default 10 s) */
  logIntervalMs?: number;
  logger?: ProcessorLogger;
}

export interface ResolvedOptions {
  brokers: string[];
  groupId: string;
  inputTopic: string;
  outputTopic: string;
  changelogTopic: string;
  createChangelog: boolean;
  changelogRetentionMs: number;
  windowMs: number;
  maxDisorderMs: number;
  transactionalId: string;
  instanceId: string;
  startFrom: 'earliest' | 'latest';
  maxBatchRecords: number;
  fetchMaxBytes: number;
  partitionMaxBytes: number;
  fetchMaxWaitMs: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  metricsPort: number | undefined;
  metricsHost: string;
  logIntervalMs: number;
  logger: ProcessorLogger;
}

export class ProcessorOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProcessorOptionsError';
  }
}

const DAY_MS = 86_400_000;

function fail(message: string): never {
  throw new ProcessorOptionsError(message);
}

/** @inlet/kafka's rules (broker address, topic name), reported as a ProcessorOptionsError. */
function kafkaRule<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof KafkaOptionError) fail(error.message);
    throw error;
  }
}

function topic(value: unknown, field: string, fallback: string): string {
  return kafkaRule(() => checkTopicName(value ?? fallback, field));
}

/** Ids (group, instance, transactional prefix) name topics and clients, so they follow the topic-name rule too. */
function id(value: unknown, field: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (!isTopicName(value)) fail(`${field} must be 1-249 characters of letters, digits, '.', '_' or '-', got ${JSON.stringify(value)}`);
  return value;
}

function integer(value: unknown, field: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(`${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return value;
}


const consoleLogger: ProcessorLogger = {
  info: (message, fields) => console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), msg: message, ...fields })),
  warn: (message, fields) => console.error(JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg: message, ...fields })),
  error: (message, fields) => console.error(JSON.stringify({ level: 'error', time: new Date().toISOString(), msg: message, ...fields })),
};

export function resolveOptions(options: ProcessorOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') fail('options must be an object');
  const brokers = kafkaRule(() => parseBrokers(options.brokers, 'brokers'));
  const groupId = id(options.groupId, 'groupId', PROCESSOR_GROUP);
  const inputTopic = topic(options.inputTopic, 'inputTopic', RAW_EVENTS_TOPIC);
  const outputTopic = topic(options.outputTopic, 'outputTopic', EVENTS_TOPIC);
  const changelog = topic(options.changelogTopic, 'changelogTopic', changelogTopic(groupId));
  const topics = new Set([inputTopic, outputTopic, changelog]);
  if (topics.size !== 3) fail(`inputTopic, outputTopic and changelogTopic must differ (got ${inputTopic}, ${outputTopic}, ${changelog})`);
  const windowMs = integer(options.windowMs, 'windowMs', 3_600_000, 1, 30 * DAY_MS);
  const instanceId = id(options.instanceId, 'instanceId', randomUUID());
  const transactionalIdPrefix = id(options.transactionalIdPrefix, 'transactionalIdPrefix', groupId);
  const startFrom = options.startFrom ?? 'earliest';
  if (startFrom !== 'earliest' && startFrom !== 'latest') fail(`startFrom must be 'earliest' or 'latest', got ${JSON.stringify(startFrom)}`);
  const sessionTimeoutMs = integer(options.sessionTimeoutMs, 'sessionTimeoutMs', 10_000, 1000);
  const heartbeatIntervalMs = integer(options.heartbeatIntervalMs, 'heartbeatIntervalMs', 1000, 100);
  if (heartbeatIntervalMs >= sessionTimeoutMs) fail('heartbeatIntervalMs must be less than sessionTimeoutMs');
  const fetchMaxBytes = integer(options.fetchMaxBytes, 'fetchMaxBytes', 8 * 1024 * 1024, 1024);
  const partitionMaxBytes = integer(options.partitionMaxBytes, 'partitionMaxBytes', 1024 * 1024, 1024);
  if (options.createChangelog !== undefined && typeof options.createChangelog !== 'boolean') fail('createChangelog must be a boolean');
  if (options.metricsHost !== undefined && (typeof options.metricsHost !== 'string' || options.metricsHost === '')) fail('metricsHost must be a non-empty string');
  const logger = options.logger ?? consoleLogger;
  if (typeof logger.info !== 'function' || typeof logger.warn !== 'function' || typeof logger.error !== 'function') fail('logger must have info, warn and error functions');
  return {
    brokers,
    groupId,
    inputTopic,
    outputTopic,
    changelogTopic: changelog,
    createChangelog: options.createChangelog ?? true,
    changelogRetentionMs: integer(options.changelogRetentionMs, 'changelogRetentionMs', windowMs + DAY_MS, windowMs),
    windowMs,
    maxDisorderMs: integer(options.maxDisorderMs, 'maxDisorderMs', 300_000, 0, DAY_MS),
    transactionalId: `${transactionalIdPrefix}-${instanceId}`,
    instanceId,
    startFrom,
    maxBatchRecords: integer(options.maxBatchRecords, 'maxBatchRecords', 20_000, 1, 1_000_000),
    fetchMaxBytes,
    partitionMaxBytes: Math.min(partitionMaxBytes, fetchMaxBytes),
    fetchMaxWaitMs: integer(options.fetchMaxWaitMs, 'fetchMaxWaitMs', 200, 0, 30_000),
    transactionTimeoutMs: integer(options.transactionTimeoutMs, 'transactionTimeoutMs', 10_000, 1000, 900_000),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: integer(options.rebalanceTimeoutMs, 'rebalanceTimeoutMs', 30_000, 1000),
    metricsPort: options.metricsPort === undefined ? undefined : integer(options.metricsPort, 'metricsPort', 0, 0, 65535),
    metricsHost: options.metricsHost ?? '0.0.0.0',
    logIntervalMs: integer(options.logIntervalMs, 'logIntervalMs', 10_000, 0),
    logger,
  };
}
