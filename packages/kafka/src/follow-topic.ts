// Follows a topic from its end as it stands when following starts: every committed record written
// after that, as it arrives, until the signal is aborted. No consumer group and no committed
// offsets: a watcher (the console's live view) that every server instance can run on its own and
// that leaves nothing behind. Errors (a broker away, a leader moving) are retried after a pause;
// a position that fell off the log jumps to the end.
//
// A watcher that shows only the newest (`newest`) must not pay for a busy topic: fetching and
// decoding every record to throw most away cost a Kafka instance a fifth of its ingestion with one
// console open. So a partition far behind its last stable offset jumps to just before it, the
// records jumped over are only counted, each fetch is small, and a busy topic is fetched at most
// once per window (an idle one long-polls, so a lone record still shows at once).
import type { Admin, Consumer } from '@platformatic/kafka';
import { createAdmin, createFetcher, forceClose, type ClientOptions } from './clients.ts';
import { fetchCommitted, OffsetOutOfRangeError } from './committed-fetch.ts';
import type { TopicRecord } from './read-topic.ts';

export interface FollowTopicOptions extends ClientOptions {
  topic: string;
  signal: AbortSignal;
  /** how long one fetch waits at the broker for new records (default 250 ms: the delay a new record may see) */
  maxWaitMs?: number;
  /** told of each error before the retry (default: ignored) */
  onError?(error: unknown): void;
  /** only the newest records matter: at most about `records` per `everyMs` (over all partitions) are fetched, the rest jumped over */
  newest?: NewestOnly;
  /** one fetch's bound (default 4 MB; the broker still returns a first batch larger than it) */
  maxBytes?: number;
  /** one partition's bound in a fetch (default 1 MB) */
  partitionMaxBytes?: number;
}

export interface NewestOnly {
  records: number;
  everyMs: number;
  /**
   * Told how many offsets a jump passed over. Offsets, not records: an aborted transaction's
   * records and the transaction markers in the range are counted too (never more than the records
   * written there, and decoding them to tell would cost what the jump saves).
   */
  onSkipped(count: number): void;
}

const LATEST = -1n;
const READ_COMMITTED = 1;
const RETRY_MS = 1000;

async function ends(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const found = metadata.topics.get(topic);
  if (!found) throw new Error(`topic ${topic} does not exist (create it with \`inlet topics create\`)`);
  const partitions = [...Array(found.partitionsCount).keys()];
  const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: LATEST })) }], isolationLevel: READ_COMMITTED });
  return new Map(listed.partitions.map((p) => [p.partitionIndex, p.offset]));
}

/**
 * Moves each position that is more than its share of `newest.records` behind its partition's end
 * (the last stable offset: beyond it lie records of open transactions) to that share before the
 * end. Returns the offsets passed over.
 */
function jumpToNewest(positions: Map<number, bigint>, lastStable: Map<number, bigint>, records: number): number {
  const keep = BigInt(Math.max(1, Math.floor(records / Math.max(1, positions.size))));
  let skipped = 0n;
  for (const [partition, end] of lastStable) {
    const position = positions.get(partition);
    if (position === undefined || end - position <= keep) continue;
    skipped += end - keep - position;
    positions.set(partition, end - keep);
  }
  return Number(skipped);
}

const pause = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

/**
 * Calls `onRecords` with each fetched chunk (records of one partition, in offset order), awaiting
 * it before fetching more. Resolves once `signal` is aborted. The first positions are known (the
 * topic's ends were read) when `started` resolves.
 */
export function followTopic(o: FollowTopicOptions, onRecords: (records: TopicRecord[]) => unknown): { started: Promise<void>; done: Promise<void> } {
  const admin = createAdmin(o);
  const fetcher: Consumer = createFetcher(o);
  const closeClients = () => Promise.all([forceClose(fetcher), forceClose(admin)]);
  o.signal.addEventListener('abort', () => { void closeClients(); }, { once: true });
  let positions: Map<number, bigint> | undefined;
  /** the last fetch returned records: a busy topic, read its ends before the next fetch */
  let busy = false;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => { markStarted = resolve; });
  const done = (async () => {
    try {
      while (!o.signal.aborted) {
        try {
          if (!positions) {
            positions = await ends(admin, o.topic);
            markStarted();
          }
          const newest = o.newest;
          if (newest && busy) {
            // The records that came during the pause may be more than the window shows: ask where
            // the partitions end (one small request per leader) and fetch only the newest of them.
            const listed = await fetcher.listOffsets({ topics: [o.topic], isolationLevel: READ_COMMITTED });
            const lastStable = new Map((listed.get(o.topic) ?? []).map((offset, partition) => [partition, offset]));
            const skipped = jumpToNewest(positions, lastStable, newest.records);
            if (skipped > 0) newest.onSkipped(skipped);
          }
          const fetchedAt = Date.now();
          const fetched = await fetchCommitted(fetcher, o.topic, positions, {
            maxWaitTime: o.maxWaitMs ?? 250, maxBytes: o.maxBytes ?? 4 << 20, partitionMaxBytes: o.partitionMaxBytes ?? 1 << 20,
          });
          let count = 0;
          for (const f of fetched) {
            positions.set(f.partition, f.nextOffset);
            count += f.records.length;
            if (f.records.length > 0 && !o.signal.aborted) await onRecords(f.records.map((r) => ({ ...r, partition: f.partition })));
          }
          if (newest) {
            // The response says where each partition ended when it was read: a partition still far
            // behind (a burst larger than one fetch) jumps now rather than being read to its end.
            const skipped = jumpToNewest(positions, new Map(fetched.map((f) => [f.partition, f.lastStableOffset])), newest.records);
            if (skipped > 0) newest.onSkipped(skipped);
            busy = count > 0;
            const rest = fetchedAt + newest.everyMs - Date.now();
            if (busy && rest > 0) await pause(rest, o.signal);
          }
        } catch (error) {
          if (o.signal.aborted) break;
          if (error instanceof OffsetOutOfRangeError) positions = undefined;
          o.onError?.(error);
          await pause(RETRY_MS, o.signal);
        }
      }
    } finally {
      markStarted();
      await closeClients();
    }
  })();
  return { started, done };
}
