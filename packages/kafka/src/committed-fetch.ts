// Reads partitions with read_committed semantics done right, on top of the client's raw fetch.
//
// Why not the client's consumer stream: the processor needs exact control of positions (they must
// equal what its last committed transaction says).
//
// WORKAROUND(@platformatic/kafka <= 2.12.1): the client's Consumer.fetch() runs its own
// aborted-transaction filter on every read_committed response, and that filter both keeps aborted
// records and drops committed ones. It keeps one range per producer id, from the first offset of
// the producer's last aborted transaction listed in the response to the producer's last abort
// marker in it: so when one producer aborted two transactions in one response, the first one's
// records are delivered; and when the last abort marker belongs to a transaction that wrote no data
// on the partition (the broker lists no aborted transaction for it; a processor killed after adding
// a partition to its transaction and before writing to it leaves one), every batch of that producer
// between its last aborted transaction and that marker is removed — committed ones included, the
// markers too, with nothing left to tell they were there. So the request goes out here, through
// the client's exported Fetch API on the consumer's connection, without the filter, and the
// standard algorithm (the Java client's, KIP-98) runs on the whole response.
import { fetchV13, fetchV14, fetchV15, fetchV16, fetchV17, type Consumer, type RecordsBatch } from '@platformatic/kafka';
import { walkErrors } from './errors.ts';

type FetchResponsePartition = fetchV17.FetchResponsePartition;

const IS_TRANSACTIONAL = 0b1_0000;
const IS_CONTROL = 0b10_0000;
const READ_COMMITTED = 1;

export interface FetchedRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: [Buffer | null, Buffer | null][];
}

export interface PartitionFetch {
  partition: number;
  records: FetchedRecord[];
  /** the position after what this response covered (control records and aborted data included) */
  nextOffset: bigint;
  highWatermark: bigint;
  lastStableOffset: bigint;
}

export interface FetchLimits {
  maxWaitTime: number;
  maxBytes: number;
  partitionMaxBytes: number;
}

export class OffsetOutOfRangeError extends Error {
  readonly partitions: number[];
  constructor(topic: string, partitions: number[]) {
    super(`offset out of range on ${topic} partitions ${partitions.join(',')}`);
    this.name = 'OffsetOutOfRangeError';
    this.partitions = partitions;
  }
}

function isAbortMarker(batch: RecordsBatch): boolean {
  const key = batch.records[0]?.key;
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0;
}

/** The data batches of a read_committed response that belong to no aborted transaction. */
export function committedBatches(partition: Pick<FetchResponsePartition, 'records' | 'abortedTransactions'>): RecordsBatch[] {
  const batches = partition.records ?? [];
  const pending = [...(partition.abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborting = new Set<bigint>();
  const kept: RecordsBatch[] = [];
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (pending.length > 0 && pending[0].firstOffset <= lastOffset) aborting.add(pending.shift()!.producerId);
    if (batch.attributes & IS_CONTROL) {
      if (isAbortMarker(batch)) aborting.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & IS_TRANSACTIONAL && aborting.has(batch.producerId)) continue;
    kept.push(batch);
  }
  return kept;
}

function decodePartition(response: FetchResponsePartition, from: bigint): PartitionFetch {
  const records: FetchedRecord[] = [];
  let nextOffset = from;
  const all = response.records ?? [];
  if (all.length > 0) {
    const last = all[all.length - 1];
    const end = last.firstOffset + BigInt(last.lastOffsetDelta) + 1n;
    if (end > nextOffset) nextOffset = end;
  }
  for (const batch of committedBatches(response)) {
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      if (offset < from) continue;
      records.push({ offset, timestamp: batch.firstTimestamp + record.timestampDelta, key: record.key, value: record.value, headers: record.headers });
    }
  }
  return { partition: response.partitionIndex, records, nextOffset, highWatermark: response.highWatermark, lastStableOffset: response.lastStableOffset };
}

/** Partitions a failed fetch reported OFFSET_OUT_OF_RANGE for (error code 1 in the response it carries). */
function outOfRangePartitions(error: unknown): number[] {
  const found = new Set<number>();
  walkErrors(error, (e) => {
    const { response } = e as { response?: { responses?: { partitions?: { errorCode: number; partitionIndex: number }[] }[] } };
    for (const topic of response?.responses ?? []) {
      for (const partition of topic.partitions ?? []) if (partition.errorCode === 1) found.add(partition.partitionIndex);
    }
  });
  return [...found];
}

type FetchApi = typeof fetchV17.api.async;

/** The Fetch versions whose request and response have the shape used here (topic ids; Kafka 3.1 and later). */
const FETCH_APIS = [fetchV17, fetchV16, fetchV15, fetchV14, fetchV13].map((m) => m.api);
const negotiated = new WeakMap<Consumer, Promise<FetchApi>>();

/** The highest Fetch version both the client and the cluster speak, asked once per consumer. */
function fetchApi(consumer: Consumer): Promise<FetchApi> {
  let api = negotiated.get(consumer);
  if (!api) {
    api = consumer.listApis().then((apis) => {
      const broker = apis.find((a) => a.apiKey === 1);
      const chosen = FETCH_APIS.find((a) => broker !== undefined && a.version >= broker.minVersion && a.version <= broker.maxVersion);
      if (!chosen) throw new Error(`the Kafka cluster does not support Fetch v13 to v17 (it offers ${broker ? `v${broker.minVersion} to v${broker.maxVersion}` : 'no Fetch'}); Kafka 3.1 or later is needed`);
      return chosen.async as FetchApi;
    });
    api.catch(() => negotiated.delete(consumer));
    negotiated.set(consumer, api);
  }
  return api;
}

/** What the client's own fetch retried: a dropped connection, a leader that moved (NOT_LEADER_OR_FOLLOWER, ...). */
function retryable(error: unknown): boolean {
  let found = false;
  walkErrors(error, (e) => {
    if ((e as { canRetry?: unknown }).canRetry === true) found = true;
  });
  return found;
}

const FETCH_ATTEMPTS = 4;
const RETRY_DELAY_MS = 250;

/**
 * Fetches `positions` (partition → offset) of one topic from their leaders, one request per leader,
 * all in flight together. Throws OffsetOutOfRangeError when a position fell off the log. A
 * retryable failure is tried again (fresh metadata, so a moved leader is found) a few times first.
 */
export async function fetchCommitted(consumer: Consumer, topic: string, positions: Map<number, bigint>, limits: FetchLimits): Promise<PartitionFetch[]> {
  if (positions.size === 0) return [];
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(consumer, topic, positions, limits);
    } catch (error) {
      if (error instanceof OffsetOutOfRangeError || attempt >= FETCH_ATTEMPTS || !retryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
  }
}

async function fetchOnce(consumer: Consumer, topic: string, positions: Map<number, bigint>, limits: FetchLimits): Promise<PartitionFetch[]> {
  const metadata = await consumer.metadata({ topics: [topic] });
  const topicMetadata = metadata.topics.get(topic);
  if (!topicMetadata) throw new Error(`topic ${topic} not found`);
  const byLeader = new Map<number, number[]>();
  for (const partition of positions.keys()) {
    const leader = topicMetadata.partitions[partition]?.leader;
    if (leader === undefined) throw new Error(`partition ${partition} of ${topic} not found`);
    const list = byLeader.get(leader) ?? [];
    list.push(partition);
    byLeader.set(leader, list);
  }
  const fetch = await fetchApi(consumer);
  const responses = await Promise.all(
    [...byLeader].map(async ([leader, partitions]) => {
      try {
        const broker = metadata.brokers.get(leader);
        if (!broker) throw new Error(`broker ${leader}, the leader of ${topic} partitions ${partitions.join(',')}, is not in the metadata`);
        const connection = await consumer.connections.get(broker);
        // Session id 0 and epoch -1: a full fetch outside any fetch session (KIP-227), so that
        // requests in flight together (the processor prefetches while it commits) cannot disturb
        // one another, and every response covers every partition asked for.
        const topics = [{
          topicId: topicMetadata.id,
          partitions: partitions.map((partition) => ({ partition, fetchOffset: positions.get(partition)!, partitionMaxBytes: limits.partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })),
        }];
        return await fetch(connection, limits.maxWaitTime, 1, limits.maxBytes, READ_COMMITTED, 0, -1, topics, [], '');
      } catch (error) {
        const outOfRange = outOfRangePartitions(error);
        if (outOfRange.length > 0) throw new OffsetOutOfRangeError(topic, outOfRange);
        consumer.clearMetadata();
        throw error;
      }
    }),
  );
  const result: PartitionFetch[] = [];
  for (const response of responses) {
    for (const topicResponse of response.responses) {
      for (const partition of topicResponse.partitions) {
        const from = positions.get(partition.partitionIndex);
        if (from !== undefined) result.push(decodePartition(partition, from));
      }
    }
  }
  return result;
}
