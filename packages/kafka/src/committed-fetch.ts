// Reads partitions with read_committed semantics done right, on top of the client's raw fetch.
//
// Why not the client's consumer stream: the processor needs exact control of positions (they must
// equal what its last committed transaction says).
//
// WORKAROUND(@platformatic/kafka <= 2.12.1): the client's own aborted-transaction filter keeps one
// range per producer id, so when one producer aborted two transactions that fall in the same fetch
// response (a restarted processor reusing its transactional id does exactly that) the first one's
// records are delivered. Here the standard algorithm (the Java client's) runs on the batches the
// client's filter leaves, which are a superset of the committed ones.
import type { Consumer, fetchV17, RecordsBatch } from '@platformatic/kafka';
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

/**
 * Fetches `positions` (partition → offset) of one topic from their leaders, one request per leader,
 * all in flight together. Throws OffsetOutOfRangeError when a position fell off the log.
 */
export async function fetchCommitted(consumer: Consumer, topic: string, positions: Map<number, bigint>, limits: FetchLimits): Promise<PartitionFetch[]> {
  if (positions.size === 0) return [];
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
  const responses = await Promise.all(
    [...byLeader].map(async ([leader, partitions]) => {
      try {
        return await consumer.fetch({
          node: leader,
          topics: [{
            topicId: topicMetadata.id,
            partitions: partitions.map((partition) => ({ partition, fetchOffset: positions.get(partition)!, partitionMaxBytes: limits.partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })),
          }],
          maxWaitTime: limits.maxWaitTime,
          minBytes: 1,
          maxBytes: limits.maxBytes,
          isolationLevel: READ_COMMITTED,
        });
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
