// The dedup state's durable form: changelog partition p holds input partition p's state as one
// record per transaction — the identities that transaction kept, with their receivedAt, and the
// partition's watermark after it. Replaying the records in order rebuilds the state.
//
// Why batches and time retention rather than one compacted record per identity: an identity is
// written once per window (repeats are dropped, not written), so compaction would remove almost
// nothing, while a record per identity doubles the records every transaction writes and every
// restore reads. Retention (window + 24 h by default) drops what can no longer match.
//
// Every transaction writes this record for each partition whose offset it commits, even with no
// entries: restore.ts relies on it (a pending offset commit for p implies an open transaction on
// changelog p).
import type { Admin, MessageToProduce } from '@platformatic/kafka';
import type { DedupStore } from './dedup-store.ts';

const FORMAT = 1;
const HEADER_BYTES = 1 + 8 + 4;
/** digest (16 bytes) + receivedAt (float64) */
const ENTRY_BYTES = 16 + 8;
/** Entries per record, keeping each record (and the partition's batch) under ~1 MB. */
export const MAX_ENTRIES_PER_RECORD = 30_000;

export type ChangelogMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/** One transaction's entries for one partition; keys are 16-character latin1 digests. */
export function encodeEntries(keys: string[], receivedAts: number[], watermark: number): Buffer {
  const buffer = Buffer.allocUnsafe(HEADER_BYTES + keys.length * ENTRY_BYTES);
  buffer.writeUInt8(FORMAT, 0);
  buffer.writeDoubleBE(watermark, 1);
  buffer.writeUInt32BE(keys.length, 9);
  let at = HEADER_BYTES;
  for (let i = 0; i < keys.length; i++) {
    if (buffer.write(keys[i], at, 16, 'latin1') !== 16 || keys[i].length !== 16) throw new Error('changelog keys must be 16-character digests');
    buffer.writeDoubleBE(receivedAts[i], at + 16);
    at += ENTRY_BYTES;
  }
  return buffer;
}

/** The records one transaction writes for one partition (several when it kept very many). */
export function changelogMessages(topic: string, partition: number, keys: string[], receivedAts: number[], watermark: number): ChangelogMessage[] {
  const messages: ChangelogMessage[] = [];
  for (let from = 0; from === 0 || from < keys.length; from += MAX_ENTRIES_PER_RECORD) {
    const to = Math.min(keys.length, from + MAX_ENTRIES_PER_RECORD);
    messages.push({ topic, partition, value: encodeEntries(keys.slice(from, to), receivedAts.slice(from, to), watermark) });
  }
  return messages;
}

/** Replays one changelog record into a store being restored; the entries applied, or -1 for a record it cannot read. */
export function applyChangelogRecord(store: DedupStore, value: Buffer | null): number {
  if (!value || value.length < HEADER_BYTES || value.readUInt8(0) !== FORMAT) return -1;
  const count = value.readUInt32BE(9);
  if (value.length !== HEADER_BYTES + count * ENTRY_BYTES) return -1;
  let at = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    store.restoreEntry(value.toString('latin1', at, at + 16), value.readDoubleBE(at + 16));
    at += ENTRY_BYTES;
  }
  store.restoreWatermark(value.readDoubleBE(1));
  return count;
}

export interface ChangelogTopicSpec {
  topic: string;
  partitions: number;
  retentionMs: number;
  windowMs: number;
}

/** Time retention; segments roll at most every window (min 1 min, max 1 h) so old ones can go. */
export function changelogConfigs(spec: ChangelogTopicSpec): { name: string; value: string }[] {
  return [
    { name: 'cleanup.policy', value: 'delete' },
    { name: 'retention.ms', value: String(spec.retentionMs) },
    { name: 'segment.ms', value: String(Math.max(60_000, Math.min(spec.windowMs, 3_600_000))) },
  ];
}

export async function createChangelogTopic(admin: Admin, spec: ChangelogTopicSpec): Promise<void> {
  await admin.createTopics({ topics: [spec.topic], partitions: spec.partitions, replicas: -1, configs: changelogConfigs(spec) });
}
