// What every Inlet program agrees on about Kafka: the topic names, how a broker address and a topic
// name must look, and how a normalized record is laid out (key, headers, value). The server's sink
// and the Node SDK's Kafka transport write records this way; the processor reads them this way.
//
// This module does not load the Kafka client, so the Node SDK can check its options and lay out
// records at track() time without paying for the client (~50 MB of RSS); it imports the rest of
// @inlet/kafka on its first send. Keep it free of @platformatic/kafka.
import zlib from 'node:zlib';
import type { NormalizedRecord } from '@inlet/schema';
import { list, oneOf, refuse, rule, then, type Rule } from '@inlet/schema/settings';

/** Accepted events: written by the server's Kafka sink and the Node SDK, read by the processor. */
export const RAW_EVENTS_TOPIC = 'raw-events';
/** Each event once: written by the processor, read by whatever comes downstream. */
export const EVENTS_TOPIC = 'events';
/** Reserved for events that were not stored, with their reason (the failed-events issue). */
export const FAILED_EVENTS_TOPIC = 'failed-events';
/** The processor's consumer group unless told otherwise. */
export const PROCESSOR_GROUP = 'inlet-processor';

/** The topic holding a processor group's dedup state. */
export function changelogTopic(groupId: string): string {
  return `${groupId}-dedup-changelog`;
}

// Kafka's own rule for topic names (and "." / ".." are refused by the broker).
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function isTopicName(value: unknown): value is string {
  return typeof value === 'string' && TOPIC_NAME.test(value) && value !== '.' && value !== '..';
}

/** A topic name; ids that name topics and clients (group, instance, transactional prefix) follow it too. */
export const topicName: Rule<string> = rule((v) => (isTopicName(v) ? v : refuse(`must be 1-249 characters of letters, digits, '.', '_' or '-', got ${JSON.stringify(v)}`)));

// host:port with the port required; an IPv6 host in brackets ([::1]:9092), as the client parses it.
const BROKER = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):(\d{1,5})$/;

const broker = rule((v) => {
  const port = typeof v === 'string' ? Number(BROKER.exec(v)?.[1] ?? 0) : 0;
  return port >= 1 && port <= 65535 ? (v as string) : refuse('is not host:port (port 1-65535; an IPv6 address in brackets, [::1]:9092)');
});

/** The bootstrap brokers, from a list or a comma-separated string (as in KAFKA_BROKERS): trimmed, empty entries dropped. */
export const brokerList: Rule<string[]> = list(broker, { nonEmpty: true, expects: 'host:port entries, as a list or a comma-separated string' });

/** Producer compressions; zstd needs zlib's zstd (Node 22.15+, 24). */
export const COMPRESSIONS = ['lz4', 'zstd', 'gzip', 'snappy', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const compression: Rule<Compression> = then(oneOf(COMPRESSIONS), (value) => {
  if (value === 'zstd' && typeof zlib.zstdCompressSync !== 'function') refuse('zstd needs a Node.js whose zlib has zstd (22.15+, 24)');
  return value;
});

/** How the sink keeps several produce requests in flight (see writer.ts); 'lanes' is for the benchmark. */
export const SEND_MODES = ['pipelined', 'lanes'] as const;
export type SendMode = (typeof SEND_MODES)[number];
export const sendMode: Rule<SendMode> = oneOf(SEND_MODES);

/** Header names of a raw-events record. */
export const HEADERS = { sourceId: 'source-id', eventType: 'event-type', messageId: 'message-id' } as const;

export interface KafkaRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** The record key: one user's events share a partition, which is what lets the processor catch repeats. */
export function partitionKey(record: Pick<NormalizedRecord, 'userId' | 'anonymousId'>): string {
  return record.userId ?? record.anonymousId ?? '';
}

/**
 * The same record with its headers as a Map, the form the producer iterates: handed a plain
 * object, it makes an entries array and a Map of it for every record (~0.8 µs per event in a
 * micro-benchmark of the server's sink).
 */
export function toKafkaMessage(record: NormalizedRecord, value: string = JSON.stringify(record)): { key: string; value: string; headers: Map<string, string> } {
  return {
    key: partitionKey(record),
    value,
    headers: new Map<string, string>().set(HEADERS.sourceId, record.sourceId).set(HEADERS.eventType, record.type).set(HEADERS.messageId, record.messageId),
  };
}

/** A normalized record as it goes on raw-events. `value` may be passed when the caller already serialized the record. */
export function toKafkaRecord(record: NormalizedRecord, value: string = JSON.stringify(record)): KafkaRecord {
  return {
    key: partitionKey(record),
    value,
    headers: { [HEADERS.sourceId]: record.sourceId, [HEADERS.eventType]: record.type, [HEADERS.messageId]: record.messageId },
  };
}

/**
 * Bytes of records a writer puts in one produce request: under what Kafka takes in one by default
 * (message.max.bytes, 1 MiB), with room for the request's framing.
 */
export const MAX_PRODUCE_BYTES = 900_000;

// TLS and SASL settings: client-free too, so programs check them before loading the client.
export * from './security.ts';
