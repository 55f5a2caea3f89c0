// The processor's options: what can be set, the defaults, and validation done once at construction
// by the settings kit (@inlet/schema/settings): a wrong value throws InvalidSettingError
// (INLET_INVALID_SETTING) naming it. The command line reads its flags with the same rules.
import { randomUUID } from 'node:crypto';
import { brokerList, changelogTopic, EVENTS_TOPIC, kafkaSecurity, PROCESSOR_GROUP, RAW_EVENTS_TOPIC, topicName, type KafkaSecurity } from '@inlet/kafka/contract';
import { boolean, checkSettings, duration, integer, invalid, oneOf, refuse, rule, text, type Rule } from '@inlet/schema/settings';
import { defaultProcessorLogger } from './log.ts';

export interface ProcessorLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface ProcessorOptions {
  /** bootstrap brokers, as an array or a comma-separated "host:port,host:port" string */
  brokers: string[] | string;
  /** TLS and SASL to the brokers (the command line's --tls, --sasl-* flags); default plaintext */
  security?: KafkaSecurity;
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
  /** the address /metrics listens on (default 127.0.0.1: it has no authentication; 0.0.0.0 for a scraper from elsewhere) */
  metricsHost?: string;
  /** log counts this often (0 = never; default 10 s) */
  logIntervalMs?: number;
  /** default: pino JSON lines on stdout, shaped as the server's (./log.ts) */
  logger?: ProcessorLogger;
}

export interface ResolvedOptions {
  brokers: string[];
  security: KafkaSecurity | undefined;
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

const DAY_MS = 86_400_000;

const logger: Rule<ProcessorLogger> = rule((v) => {
  const l = v as ProcessorLogger;
  return typeof l === 'object' && l !== null && typeof l.info === 'function' && typeof l.warn === 'function' && typeof l.error === 'function'
    ? l
    : refuse('must be an object with info, warn and error functions');
});

/** Each option's rule; ids (group, instance, transactional prefix) name topics and clients, so they follow the topic-name rule. */
export const PROCESSOR_OPTIONS = {
  brokers: brokerList,
  security: kafkaSecurity.optional(),
  groupId: topicName.default(PROCESSOR_GROUP),
  inputTopic: topicName.default(RAW_EVENTS_TOPIC),
  outputTopic: topicName.default(EVENTS_TOPIC),
  changelogTopic: topicName.optional(),
  createChangelog: boolean().default(true),
  changelogRetentionMs: duration(1, 3650 * DAY_MS).optional(),
  windowMs: duration(1, 30 * DAY_MS).default(3_600_000),
  maxDisorderMs: duration(0, DAY_MS).default(300_000),
  transactionalIdPrefix: topicName.optional(),
  instanceId: topicName.optional(),
  startFrom: oneOf(['earliest', 'latest'] as const).default('earliest'),
  maxBatchRecords: integer(1, 1_000_000).default(20_000),
  fetchMaxBytes: integer(1024).default(8 * 1024 * 1024),
  partitionMaxBytes: integer(1024).default(1024 * 1024),
  fetchMaxWaitMs: integer(0, 30_000).default(200),
  transactionTimeoutMs: integer(1000, 900_000).default(10_000),
  sessionTimeoutMs: integer(1000).default(10_000),
  heartbeatIntervalMs: integer(100).default(1000),
  rebalanceTimeoutMs: integer(1000).default(30_000),
  metricsPort: integer(0, 65535).optional(),
  // /metrics and /health have no authentication: the loopback unless asked, as the server's admin
  // listener. A Kubernetes pod sets 0.0.0.0 for Prometheus to scrape it.
  metricsHost: text().default('127.0.0.1'),
  logIntervalMs: integer(0).default(10_000),
  logger: logger.optional(),
};

export function resolveOptions(options: ProcessorOptions): ResolvedOptions {
  const o = checkSettings(PROCESSOR_OPTIONS, options as unknown as Record<string, unknown>);
  const changelog = o.changelogTopic ?? changelogTopic(o.groupId);
  if (new Set([o.inputTopic, o.outputTopic, changelog]).size !== 3) {
    throw invalid('changelogTopic', `must differ from inputTopic and outputTopic, which must differ too (got ${changelog}, ${o.inputTopic}, ${o.outputTopic})`);
  }
  if (o.heartbeatIntervalMs >= o.sessionTimeoutMs) throw invalid('heartbeatIntervalMs', `must be less than sessionTimeoutMs (${o.sessionTimeoutMs}), got ${o.heartbeatIntervalMs}`);
  // An entry is needed until the watermark is a window and max-disorder past it, and one from the
  // future is remembered as of now + max-disorder: kept that long, plus a day for restarts.
  const changelogRetentionMs = o.changelogRetentionMs ?? o.windowMs + 2 * o.maxDisorderMs + DAY_MS;
  if (changelogRetentionMs < o.windowMs) throw invalid('changelogRetentionMs', `must be at least windowMs (${o.windowMs}), got ${changelogRetentionMs}`);
  const instanceId = o.instanceId ?? randomUUID();
  return {
    brokers: o.brokers,
    security: o.security,
    groupId: o.groupId,
    inputTopic: o.inputTopic,
    outputTopic: o.outputTopic,
    changelogTopic: changelog,
    createChangelog: o.createChangelog,
    changelogRetentionMs,
    windowMs: o.windowMs,
    maxDisorderMs: o.maxDisorderMs,
    transactionalId: `${o.transactionalIdPrefix ?? o.groupId}-${instanceId}`,
    instanceId,
    startFrom: o.startFrom,
    maxBatchRecords: o.maxBatchRecords,
    fetchMaxBytes: o.fetchMaxBytes,
    partitionMaxBytes: Math.min(o.partitionMaxBytes, o.fetchMaxBytes),
    fetchMaxWaitMs: o.fetchMaxWaitMs,
    transactionTimeoutMs: o.transactionTimeoutMs,
    sessionTimeoutMs: o.sessionTimeoutMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs,
    metricsPort: o.metricsPort,
    metricsHost: o.metricsHost,
    logIntervalMs: o.logIntervalMs,
    logger: o.logger ?? defaultProcessorLogger(),
  };
}
