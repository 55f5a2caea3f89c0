// Rebuilds the dedup state and the input position of newly owned partitions.
//
// Order matters (README, "Restoring"):
//  1. wait until changelog partition p has no open transaction (last stable offset = high
//     watermark). Every transaction that commits input offsets for p writes to changelog p before
//     it commits those offsets, so once p is stable no offset commit for p is pending — the job the
//     consumer's require_stable offset fetch does in the Java client;
//  2. read the committed input offset of p;
//  3. replay changelog p up to the end observed in step 1.
// The state then is exactly the state left by the transaction that committed that offset.
import { fetchCommitted, hasProtocolError, OffsetOutOfRangeError } from '@inlet/kafka';
import type { Admin, Consumer } from '@platformatic/kafka';
import { applyChangelogRecord } from './changelog.ts';
import { DedupStore } from './dedup-store.ts';
import type { ResolvedOptions } from './options.ts';

const LATEST = -1n;
const EARLIEST = -2n;
const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;

export interface RestoredPartition {
  partition: number;
  store: DedupStore;
  /** next input offset to process */
  position: bigint;
  changelogEntries: number;
}

export interface RestoreContext {
  admin: Admin;
  consumer: Consumer;
  options: ResolvedOptions;
  /** stops waiting when the processor is shutting down or the assignment moved on */
  cancelled: () => boolean;
}

export class RestoreCancelledError extends Error {
  constructor() {
    super('restore cancelled');
    this.name = 'RestoreCancelledError';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function listOffsets(admin: Admin, topic: string, partitions: number[], timestamp: bigint, isolationLevel: 0 | 1): Promise<Map<number, bigint>> {
  const listed = await admin.listOffsets({
    topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
    isolationLevel,
  });
  const result = new Map<number, bigint>();
  for (const t of listed) for (const p of t.partitions) result.set(p.partitionIndex, p.offset);
  return result;
}

async function waitUntilStable(ctx: RestoreContext, partitions: number[]): Promise<Map<number, bigint>> {
  const { admin, options } = ctx;
  const startedAt = Date.now();
  let lastLog = startedAt;
  for (;;) {
    if (ctx.cancelled()) throw new RestoreCancelledError();
    // Stable offset first, then the high watermark: if they are equal, there was no open
    // transaction when the first was read (the watermark only grows).
    const stable = await listOffsets(admin, options.changelogTopic, partitions, LATEST, READ_COMMITTED);
    const end = await listOffsets(admin, options.changelogTopic, partitions, LATEST, READ_UNCOMMITTED);
    const open = partitions.filter((p) => stable.get(p) !== end.get(p));
    if (open.length === 0) return end;
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      options.logger.info('waiting for an open transaction on the changelog to end', { partitions: open, waitedMs: lastLog - startedAt });
    }
    await sleep(100);
  }
}

/**
 * Committed input offsets, asked with require_stable: the broker refuses to answer while a
 * transaction with offsets for these partitions is open. After waitUntilStable that should not
 * happen; it is a second, independent guard.
 */
async function committedOffsets(ctx: RestoreContext, partitions: number[]): Promise<Map<number, bigint>> {
  const { admin, options } = ctx;
  for (;;) {
    if (ctx.cancelled()) throw new RestoreCancelledError();
    try {
      const groups = await admin.listConsumerGroupOffsets({ groups: [{ groupId: options.groupId, topics: [{ name: options.inputTopic, partitionIndexes: partitions }] }], requireStable: true });
      const result = new Map<number, bigint>();
      for (const group of groups) for (const topic of group.topics) for (const p of topic.partitions) if (topic.name === options.inputTopic) result.set(p.partitionIndex, p.committedOffset);
      return result;
    } catch (error) {
      if (!hasProtocolError(error, 'UNSTABLE_OFFSET_COMMIT')) throw error;
      await sleep(100);
    }
  }
}

async function startPositions(ctx: RestoreContext, partitions: number[]): Promise<Map<number, bigint>> {
  const { admin, options } = ctx;
  const offsets = await committedOffsets(ctx, partitions);
  const positions = new Map<number, bigint>();
  const missing: number[] = [];
  for (const p of partitions) {
    const offset = offsets.get(p);
    if (offset !== undefined && offset >= 0n) positions.set(p, offset);
    else missing.push(p);
  }
  if (missing.length > 0) {
    const fallback = await listOffsets(admin, options.inputTopic, missing, options.startFrom === 'earliest' ? EARLIEST : LATEST, READ_COMMITTED);
    for (const p of missing) positions.set(p, fallback.get(p) ?? 0n);
  }
  return positions;
}

async function replayChangelog(ctx: RestoreContext, partitions: number[], ends: Map<number, bigint>): Promise<Map<number, { store: DedupStore; records: number }>> {
  const { admin, consumer, options } = ctx;
  const result = new Map<number, { store: DedupStore; records: number }>();
  for (const p of partitions) result.set(p, { store: new DedupStore(options.windowMs, options.maxDisorderMs), records: 0 });
  let unreadable = 0;
  const positions = await listOffsets(admin, options.changelogTopic, partitions, EARLIEST, READ_COMMITTED);
  for (const p of partitions) if ((positions.get(p) ?? 0n) >= (ends.get(p) ?? 0n)) positions.delete(p);
  while (positions.size > 0) {
    if (ctx.cancelled()) throw new RestoreCancelledError();
    let fetched;
    try {
      fetched = await fetchCommitted(consumer, options.changelogTopic, positions, { maxWaitTime: 50, maxBytes: options.fetchMaxBytes, partitionMaxBytes: options.partitionMaxBytes });
    } catch (error) {
      // Retention removed a segment while we read: what was in it is older than any live entry.
      if (!(error instanceof OffsetOutOfRangeError)) throw error;
      const starts = await listOffsets(admin, options.changelogTopic, error.partitions, EARLIEST, READ_COMMITTED);
      for (const p of error.partitions) positions.set(p, starts.get(p) ?? positions.get(p)!);
      continue;
    }
    for (const f of fetched) {
      const entry = result.get(f.partition)!;
      const end = ends.get(f.partition)!;
      for (const record of f.records) {
        if (record.offset >= end) break;
        const applied = applyChangelogRecord(entry.store, record.value);
        if (applied >= 0) entry.records += applied;
        else unreadable++;
      }
      if (f.nextOffset >= end) positions.delete(f.partition);
      else positions.set(f.partition, f.nextOffset);
    }
  }
  if (unreadable > 0) options.logger.warn('skipped unreadable changelog records', { topic: options.changelogTopic, records: unreadable });
  for (const { store } of result.values()) store.evict();
  return result;
}

export async function restorePartitions(ctx: RestoreContext, partitions: number[]): Promise<RestoredPartition[]> {
  if (partitions.length === 0) return [];
  const ends = await waitUntilStable(ctx, partitions);
  const positions = await startPositions(ctx, partitions);
  const states = await replayChangelog(ctx, partitions, ends);
  return partitions.map((partition) => ({ partition, store: states.get(partition)!.store, position: positions.get(partition)!, changelogEntries: states.get(partition)!.records }));
}
