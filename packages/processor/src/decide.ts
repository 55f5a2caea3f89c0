// The decision, with no Kafka in it: for fetched raw records, which are kept (written to the
// output) and which are repeats (dropped), what the changelog must record, and where each
// partition's position moves. It reads and updates the partitions' dedup memory (the window
// bookkeeping lives in DedupStore); everything else is a plain value the transaction then writes.
import type { FetchedRecord, PartitionFetch } from '@inlet/kafka';
import type { MessageToProduce } from '@platformatic/kafka';
import { changelogMessages, type ChangelogMessage } from './changelog.ts';
import { dedupIdentity, type HeaderLookup } from './dedup-key.ts';
import type { DedupStore } from './dedup-store.ts';

export type OutputMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

export interface PartitionState {
  store: DedupStore;
  /** next input offset to process; equals the offset committed by our last transaction */
  position: bigint;
  highWatermark: bigint;
}

export interface Advance {
  partition: number;
  next: bigint;
}

/** One transaction's worth: what to write, where each partition's position moves, the counts. */
export interface Batch {
  changelog: ChangelogMessage[];
  outputs: OutputMessage[];
  advances: Advance[];
  consumed: number;
  duplicates: number;
  invalid: number;
}

export interface DecideOptions {
  outputTopic: string;
  changelogTopic: string;
  /** input records per batch at most */
  maxBatchRecords: number;
}

const headerNames = new Map<string, Buffer>();

/** Looks headers up by name in a fetched record's raw header pairs. */
export function headerLookup(headers: [Buffer | null, Buffer | null][]): HeaderLookup {
  return (name) => {
    let wanted = headerNames.get(name);
    if (!wanted) headerNames.set(name, (wanted = Buffer.from(name, 'latin1')));
    for (const [key, value] of headers) if (key && value && key.equals(wanted)) return value.toString('utf8');
    return undefined;
  };
}

/** A kept record goes out with the key, headers, value and timestamp it came with. */
function passThrough(topic: string, record: FetchedRecord): OutputMessage {
  const headers = new Map<Buffer, Buffer>();
  for (const [key, value] of record.headers) if (key) headers.set(key, value ?? Buffer.alloc(0));
  return { topic, key: record.key ?? undefined, value: record.value ?? undefined, headers, timestamp: record.timestamp };
}

/**
 * Decides fetched records against the partitions' dedup memory (which remembers the kept ones);
 * undefined when no position would move. Partitions not in `states` are ignored. `now` caps how
 * far a record's receivedAt may move a partition's window (see DedupStore).
 */
export function decideBatch(fetched: PartitionFetch[], states: Map<number, PartitionState>, options: DecideOptions, now: number): Batch | undefined {
  const changelog: ChangelogMessage[] = [];
  const outputs: OutputMessage[] = [];
  const advances: Advance[] = [];
  let budget = options.maxBatchRecords;
  let consumed = 0;
  let duplicates = 0;
  let invalid = 0;
  for (const f of fetched) {
    const state = states.get(f.partition);
    if (!state) continue;
    state.highWatermark = f.highWatermark;
    let records = f.records;
    let next = f.nextOffset;
    if (records.length > budget) {
      records = records.slice(0, budget);
      next = budget > 0 ? records[budget - 1].offset + 1n : state.position;
    }
    budget -= records.length;
    const keys: string[] = [];
    const receivedAts: number[] = [];
    for (const record of records) {
      consumed++;
      const identity = dedupIdentity(record.value, headerLookup(record.headers), Number(record.timestamp));
      if (!identity) {
        invalid++;
        outputs.push(passThrough(options.outputTopic, record));
        continue;
      }
      // Remembered no further ahead than the watermark may go: an entry from the future would stay
      // live for good, and eviction, which walks entries in order, stops at a run of live ones, so
      // a thousand such entries kept everything after them too (memory without bound).
      const at = Math.min(identity.receivedAt, now + state.store.graceMs);
      if (state.store.decide(identity.key, at, now)) {
        duplicates++;
        continue;
      }
      outputs.push(passThrough(options.outputTopic, record));
      keys.push(identity.key);
      receivedAts.push(at);
    }
    if (next > state.position) {
      changelog.push(...changelogMessages(options.changelogTopic, f.partition, keys, receivedAts, state.store.watermark));
      advances.push({ partition: f.partition, next });
    }
  }
  if (advances.length === 0) return undefined;
  return { changelog, outputs, advances, consumed, duplicates, invalid };
}

/** After the batch's transaction committed: positions move and entries that can no longer match go. */
export function applyBatch(batch: Batch, states: Map<number, PartitionState>): void {
  for (const { partition, next } of batch.advances) {
    const state = states.get(partition);
    if (!state) continue;
    state.position = next;
    state.store.evict();
  }
}
