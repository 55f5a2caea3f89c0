// Building Kafka clients: Inlet's programs describe what they need in typed options, checked here
// before any client exists (a wrong value throws an InvalidSettingError naming it), and get a client
// set up the way Inlet relies on — idempotent acks=all producers, transactional producers that
// fence their predecessors, consumers with static group membership. Closing is written once too.
//
// Workarounds for @platformatic/kafka live here and in committed-fetch.ts, each marked
// `WORKAROUND(@platformatic/kafka <= version)`; README.md lists them with the upstream issues.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Admin, Consumer, FetchIsolationLevels, Producer, ProduceAcks, stringSerializers, type SASLMechanismValue, type SASLOptions } from '@platformatic/kafka';
import { brokerList, compression, kafkaSecurity, type Compression, type KafkaSecurity } from '@inlet/kafka/contract';
import { keyPartitioner } from './partitioner.ts';
import { checkSetting, checkSettings, integer, invalid, text } from '@inlet/schema/settings';

/** What every client needs. Times are milliseconds. */
export interface ClientOptions {
  /** bootstrap brokers: a list, or a comma-separated string, of host:port */
  brokers: string[] | string;
  clientId: string;
  /** how long one request may wait for its answer (the client's `timeout`) */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** the client's own retries of one operation */
  retries?: number;
  retryDelayMs?: number;
  /** TLS and SASL (security.ts); left out: plaintext without authentication */
  security?: KafkaSecurity;
}

export interface IdempotentProducerOptions extends ClientOptions {
  /** default lz4 */
  compression?: Compression;
}

export interface TransactionalProducerOptions extends ClientOptions {
  transactionalId: string;
}

export interface GroupConsumerOptions extends ClientOptions {
  groupId: string;
  /**
   * Static group membership (`group.instance.id`): a restart of this instance within the session
   * timeout takes its partitions back without a rebalance, and its death pauses no one else.
   */
  instanceId?: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
}

/** Keys and headers are strings; a value is a string, or its bytes when the caller has them already. */
export type IdempotentProducer = Producer<string, string | Buffer, string, string>;
export type BufferProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

const name = text({ pattern: /^\S+$/, expects: 'a non-empty string without spaces' });

const CLIENT = {
  brokers: brokerList,
  clientId: name,
  requestTimeoutMs: integer(1, 3_600_000).optional(),
  connectTimeoutMs: integer(1, 3_600_000).optional(),
  retries: integer(0, 1_000_000).optional(),
  retryDelayMs: integer(0, 600_000).optional(),
  security: kafkaSecurity.optional(),
};

/** `host` of `host:port`, `[v6]:port` unbracketed. */
const hostOf = (broker: string) => broker.slice(0, broker.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');

/** The options every client shares, checked, in the client's own terms. Other keys are the caller's. */
function base(o: ClientOptions, minRetries = 0) {
  const c = checkSettings(CLIENT, o as unknown as Record<string, unknown>, { ignoreUnknown: true });
  if (c.retries !== undefined && c.retries < minRetries) throw invalid('retries', `must be an integer from ${minRetries} to 1000000, got ${c.retries}`);
  const options = {
    bootstrapBrokers: c.brokers, clientId: c.clientId, timeout: c.requestTimeoutMs, connectTimeout: c.connectTimeoutMs, retries: c.retries, retryDelay: c.retryDelayMs,
    // An empty object is TLS with the system's CAs, as Node's tls.connect takes it.
    tls: c.security?.tls && (c.security.tls.ca === undefined ? {} : { ca: c.security.tls.ca }),
    // The broker's name in the handshake (SNI): proxies in front of managed Kafka (Confluent
    // Cloud's) route on it, and the client sends none unless asked. Not for brokers named by
    // address, which SNI cannot carry.
    tlsServerName: c.security?.tls && c.brokers.some((broker) => isIP(hostOf(broker)) === 0) ? true : undefined,
    sasl: c.security?.sasl && { mechanism: c.security.sasl.mechanism.toUpperCase() as SASLMechanismValue, username: c.security.sasl.username, password: c.security.sasl.password },
  };
  // The client treats an explicit undefined like a value in places; leave unset options out.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as {
    bootstrapBrokers: string[]; clientId: string; timeout?: number; connectTimeout?: number; retries?: number; retryDelay?: number; tls?: ConnectionOptions; tlsServerName?: boolean; sasl?: SASLOptions;
  };
}

/**
 * Header names come from a small fixed set (the record contract's, and the failed events'): their
 * bytes are made once. A Buffer.from per header name per record cost ~0.5 µs of CPU per event for
 * the three headers of a raw-events record (micro-benchmark: 0.9 -> 0.4 µs for the six header strings).
 */
const headerNames = new Map<string, Buffer>();
const MAX_CACHED_HEADER_NAMES = 64;

function headerNameBytes(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf-8');
    if (headerNames.size < MAX_CACHED_HEADER_NAMES) headerNames.set(name, bytes);
  }
  return bytes;
}

/**
 * The client's string serializers, except that header names are encoded once and a value given as
 * bytes is written as it is (the server's producer thread gets them that way from the main thread).
 */
const producerSerializers = {
  ...stringSerializers,
  value: (value: string | Buffer | undefined) => (typeof value === 'string' ? Buffer.from(value, 'utf-8') : value),
  headerKey: (name: string | undefined) => (typeof name === 'string' ? headerNameBytes(name) : undefined),
};

/**
 * An idempotent producer (acks=all) of records with string keys and headers, and values as strings
 * or their bytes, as the sink and the Node SDK write them.
 * Several sends may be in flight on it: each takes its sequence numbers when it is sent.
 */
export function createIdempotentProducer(o: IdempotentProducerOptions): IdempotentProducer {
  return new Producer({
    ...checkIdempotentProducerOptions(o),
    serializers: producerSerializers,
    partitioner: keyPartitioner(),
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
  });
}

/** The options createIdempotentProducer takes, checked (InvalidSettingError), in the client's terms. */
export function checkIdempotentProducerOptions(o: IdempotentProducerOptions) {
  // WORKAROUND(@platformatic/kafka <= 2.12.1): an idempotent producer with `retries` unset, 0 or 1
  // retries forever (2.x, "Fixed retries overriding for idempotent", #262). A bound must be explicit.
  const options = base(o, 2);
  if (options.retries === undefined) throw invalid('retries', 'must be given for an idempotent producer (2 or more; fewer means unlimited to the client)');
  return { ...options, compression: checkSetting('compression', compression.default('lz4'), o.compression) };
}

/**
 * A transactional producer of raw buffers, initialised at once: initialising fences every older
 * producer with this transactional id and ends its open transaction (aborted, or completed if it
 * had reached the commit point), which is what a restarted processor must wait for.
 */
export async function createTransactionalProducer(o: TransactionalProducerOptions): Promise<BufferProducer> {
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    ...base(o, 2),
    idempotent: true,
    transactionalId: checkSetting('transactionalId', name, o.transactionalId),
    // WORKAROUND(@platformatic/kafka <= 2.12.1): InitProducerId goes out with producer id 0 and
    // epoch 0 unless told otherwise, which the coordinator reads as "bump producer 0, epoch 0" and
    // refuses with PRODUCER_FENCED once the transactional id was used before — every restart.
    // -1/-1 asks for a fresh producer id and epoch, as the Java client does.
    producerId: -1n,
    producerEpoch: -1,
    // Every transactional write (the processor's events and dedup changelog, the failed-events
    // replay) goes out with lz4, as the sink writes raw-events: an event takes about a tenth of the
    // bytes (76 against 829), for no CPU that four pairs of the processor bench could tell apart
    // (bench/LOG.md, "2026-12-07, 06:15 UTC session"). The changelog's digests hardly shrink.
    compression: 'lz4',
    autocreateTopics: false,
  });
  try {
    // WORKAROUND(@platformatic/kafka <= 2.12.1): there is no initTransactions(); the first
    // beginTransaction() runs InitProducerId, and cancelling it sends nothing to the broker.
    const transaction = await producer.beginTransaction();
    await transaction.cancel();
    return producer;
  } catch (error) {
    await forceClose(producer);
    throw error;
  }
}

const GROUP = {
  groupId: name,
  instanceId: name.optional(),
  sessionTimeoutMs: integer(1000, 3_600_000),
  heartbeatIntervalMs: integer(100, 3_600_000),
  rebalanceTimeoutMs: integer(1000, 3_600_000),
};

/**
 * A consumer in a group (the classic protocol, with static membership when `instanceId` is set),
 * reading committed data only. It never commits by itself: offsets go in transactions.
 */
export function createGroupConsumer(o: GroupConsumerOptions): Consumer {
  const g = checkSettings(GROUP, o as unknown as Record<string, unknown>, { ignoreUnknown: true });
  if (g.heartbeatIntervalMs >= g.sessionTimeoutMs) throw invalid('heartbeatIntervalMs', `must be less than sessionTimeoutMs (${g.sessionTimeoutMs}), got ${g.heartbeatIntervalMs}`);
  return new Consumer({
    ...base(o),
    groupId: g.groupId,
    ...(g.instanceId === undefined ? {} : { groupInstanceId: g.instanceId }),
    // The classic protocol, not KIP-848's: under the new one this client joins only through its
    // consume() streams and keeps private the member epoch a transactional offset commit must
    // carry (README, "The group protocol").
    groupProtocol: 'classic',
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    sessionTimeout: g.sessionTimeoutMs,
    heartbeatInterval: g.heartbeatIntervalMs,
    rebalanceTimeout: g.rebalanceTimeoutMs,
  });
}

/** A consumer that never joins its group: for fetchCommitted() and metadata, with positions kept by the caller. */
export function createFetcher(o: ClientOptions): Consumer {
  return new Consumer({
    ...base(o),
    groupId: `${o.clientId}-fetch-${randomUUID()}`,
    autocommit: false,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
  });
}

export function createAdmin(o: ClientOptions): Admin {
  return new Admin(base(o));
}

interface Closable {
  close(force: boolean, callback: (error?: Error | null) => void): void;
}

/** Closes a client even with requests in flight (they fail); never rejects — there is nothing left to do about a close that failed. */
export function forceClose(client: Closable | Admin): Promise<void> {
  if (client instanceof Admin) return client.close().catch(() => undefined);
  return new Promise((resolve) => client.close(true, () => resolve()));
}

/** Rejects with `what` after `ms` unless the promise settles first; for client calls whose own timeouts do not bound the whole call. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
