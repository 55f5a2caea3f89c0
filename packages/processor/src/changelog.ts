// The dedup state's durable form: a compacted topic, partition p holding input partition p's state.
// An entry is key = dedup key (16-byte digest), value = receivedAt in ms (decimal text). Each transaction also writes
// the partition's watermark under a reserved key; that record doubles as the marker that every
// transaction committing offsets for p has written to changelog p first (see README, "Restoring").
import type { Admin, MessageToProduce } from '@platformatic/kafka';
import type { DedupStore } from './dedup-store.ts';

/** Dedup keys are 16-character digests; this one cannot collide with them. */
export const WATERMARK_KEY = '\u0000watermark';
const WATERMARK_KEY_BUFFER = Buffer.from(WATERMARK_KEY, 'latin1');

export type ChangelogMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

export function entryMessage(topic: string, partition: number, key: string, receivedAt: number): ChangelogMessage {
  return { topic, partition, key: Buffer.from(key, 'latin1'), value: Buffer.from(String(receivedAt)) };
}

export function watermarkMessage(topic: string, partition: number, watermark: number): ChangelogMessage {
  return { topic, partition, key: WATERMARK_KEY_BUFFER, value: Buffer.from(String(watermark)) };
}

/** Applies one changelog record to a store being restored; returns false for a record it cannot read. */
export function applyChangelogRecord(store: DedupStore, key: Buffer | null, value: Buffer | null): boolean {
  if (!key || !value) return false;
  const receivedAt = Number(value.toString('latin1'));
  if (Number.isNaN(receivedAt)) return false;
  const text = key.toString('latin1');
  if (text === WATERMARK_KEY) store.restoreWatermark(receivedAt);
  else store.restoreEntry(text, receivedAt);
  return true;
}

export interface ChangelogTopicSpec {
  topic: string;
  partitions: number;
  retentionMs: number;
  windowMs: number;
}

/**
 * compact keeps the last value per key; delete drops entries older than the retention, so keys that
 * stop repeating do not pile up forever. Segments roll at most every window so old ones can go.
 */
export function changelogConfigs(spec: ChangelogTopicSpec): { name: string; value: string }[] {
  return [
    { name: 'cleanup.policy', value: 'compact,delete' },
    { name: 'retention.ms', value: String(spec.retentionMs) },
    { name: 'segment.ms', value: String(Math.max(60_000, Math.min(spec.windowMs, 3_600_000))) },
  ];
}

export async function createChangelogTopic(admin: Admin, spec: ChangelogTopicSpec): Promise<void> {
  await admin.createTopics({ topics: [spec.topic], partitions: spec.partitions, replicas: -1, configs: changelogConfigs(spec) });
}
