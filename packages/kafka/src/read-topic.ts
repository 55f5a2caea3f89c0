// Reads a topic through to its end as it stands when the read starts: every committed record
// (read_committed, aborted transactions left out), from the log start or from a moment in time,
// up to each partition's last stable offset at the start. For tools that look at a whole topic
// (the failed-events store's list and replay), not for consumers that follow one.
import type { Admin } from '@platformatic/kafka';
import { createAdmin, createFetcher, forceClose, type ClientOptions } from './clients.ts';
import { fetchCommitted, type FetchedRecord } from './committed-fetch.ts';

export type TopicRecord = FetchedRecord & { partition: number };

export interface ReadTopicOptions extends ClientOptions {
  topic: string;
  /** start at the first record written at or after this time (the record timestamps) instead of the log start */
  fromTimestampMs?: number;
  /** stop at these offsets (what an earlier read returned) instead of the ends now */
  until?: Map<number, bigint>;
  /** stop early, after the chunk being handled, once this is aborted (a bounded scan) */
  signal?: AbortSignal;
}

// ListOffsets timestamps with a meaning of their own: the log start, and the end.
const EARLIEST = -2n;
const LATEST = -1n;
const READ_COMMITTED = 1;

async function offsets(admin: Admin, topic: string, partitions: number[], timestamp: bigint): Promise<Map<number, bigint>> {
  const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }], isolationLevel: READ_COMMITTED });
  return new Map(listed.partitions.map((p) => [p.partitionIndex, p.offset]));
}

/**
 * Calls `onRecords` with each fetched chunk (records of one partition, in offset order; partitions
 * interleave), awaiting it before fetching more. Returns the end offsets it read up to.
 */
export async function readTopic(o: ReadTopicOptions, onRecords: (records: TopicRecord[]) => unknown): Promise<Map<number, bigint>> {
  const admin = createAdmin(o);
  const fetcher = createFetcher(o);
  try {
    const metadata = await admin.metadata({ topics: [o.topic], forceUpdate: true });
    const topic = metadata.topics.get(o.topic);
    if (!topic) throw new Error(`topic ${o.topic} does not exist (create it with \`inlet topics create\`)`);
    const partitions = [...Array(topic.partitionsCount).keys()];
    const ends = o.until ?? await offsets(admin, o.topic, partitions, LATEST);
    const starts = await offsets(admin, o.topic, partitions, EARLIEST);
    if (o.fromTimestampMs !== undefined) {
      // -1 when nothing was written at or after that time: nothing to read in that partition.
      for (const [partition, offset] of await offsets(admin, o.topic, partitions, BigInt(Math.max(0, Math.floor(o.fromTimestampMs))))) {
        starts.set(partition, offset < 0n ? ends.get(partition) ?? 0n : offset);
      }
    }
    const positions = new Map<number, bigint>();
    for (const partition of partitions) {
      const start = starts.get(partition) ?? 0n;
      if (start < (ends.get(partition) ?? 0n)) positions.set(partition, start);
    }
    while (positions.size > 0 && !o.signal?.aborted) {
      const fetched = await fetchCommitted(fetcher, o.topic, positions, { maxWaitTime: 100, maxBytes: 8 << 20, partitionMaxBytes: 4 << 20 });
      for (const f of fetched) {
        const end = ends.get(f.partition)!;
        const records = f.records.filter((r) => r.offset < end).map((r) => ({ ...r, partition: f.partition }));
        if (f.nextOffset >= end) positions.delete(f.partition);
        else positions.set(f.partition, f.nextOffset);
        if (records.length > 0) await onRecords(records);
        if (o.signal?.aborted) break;
      }
    }
    return ends;
  } finally {
    await Promise.all([forceClose(fetcher), forceClose(admin)]);
  }
}
