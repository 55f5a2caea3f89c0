// Follows a topic from its end as it stands when following starts: every committed record written
// after that, as it arrives, until the signal is aborted. No consumer group and no committed
// offsets: a watcher (the console's live view) that every server instance can run on its own and
// that leaves nothing behind. Errors (a broker away, a leader moving) are retried after a pause;
// a position that fell off the log jumps to the end.
//
// A watcher that shows only the newest (`newest`) must not pay for a busy topic: fetching and
// decoding every record to throw most away cost a Kafka instance a fifth of its ingestion with one
// console open. So a busy topic is fetched at most once per window, only its newest records, as
// many as the window shows (the older ones jumped over and only counted), each fetch small; an
// idle one long-polls, so a lone record still shows at once.
import type { Consumer } from '@platformatic/kafka';
import { createFetcher, forceClose, type ClientOptions } from './clients.ts';
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

const READ_COMMITTED = 1;
const RETRY_MS = 1000;

/** Where each partition of `topic` ends for a read_committed reader (its last stable offset), in one request per leader. */
async function ends(fetcher: Consumer, topic: string): Promise<Map<number, bigint>> {
  const listed = (await fetcher.listOffsets({ topics: [topic], isolationLevel: READ_COMMITTED })).get(topic);
  if (!listed) throw new Error(`topic ${topic} does not exist (create it with \`inlet topics create\`)`);
  return new Map(listed.map((offset, partition) => [partition, offset]));
}

/**
 * Shares `records` among the partitions that are behind their end (the last stable offset: beyond
 * it lie open transactions' records), starting at partition `from` and going round: each in turn
 * gets as many of its newest as are left, its older ones jumped over; once none are left, the
 * rest jump to their end and are not fetched this time. Whole partitions rather than a slice of
 * each: a fetch returns whole producer batches (on W1 over a hundred records a partition), so a
 * few newest of every partition would still decode most of the topic.
 */
function allot(positions: Map<number, bigint>, lastStable: Map<number, bigint>, records: number, from: number): { skipped: number; fetch: Map<number, bigint>; next: number } {
  const partitions = [...positions.keys()].sort((x, y) => x - y);
  let left = BigInt(records);
  let skipped = 0n;
  let next = from;
  const fetch = new Map<number, bigint>();
  for (let i = 0; i < partitions.length; i++) {
    const partition = partitions[(from + i) % partitions.length];
    const position = positions.get(partition)!;
    const end = lastStable.get(partition) ?? position;
    const lag = end > position ? end - position : 0n;
    if (lag === 0n) continue;
    const take = lag < left ? lag : left;
    left -= take;
    skipped += lag - take;
    positions.set(partition, end - take);
    if (take > 0n) {
      fetch.set(partition, end - take);
      next = (from + i + 1) % partitions.length;
    }
  }
  return { skipped: Number(skipped), fetch, next };
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
  const fetcher: Consumer = createFetcher(o);
  o.signal.addEventListener('abort', () => { void forceClose(fetcher); }, { once: true });
  let positions: Map<number, bigint> | undefined;
  /** the last fetch returned records, or stopped short of an end: read the ends before the next fetch */
  let busy = false;
  /** where the next share of a busy topic's budget starts, so every partition gets its turn */
  let turn = 0;
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => { markStarted = resolve; });
  const done = (async () => {
    try {
      while (!o.signal.aborted) {
        try {
          if (!positions) {
            positions = await ends(fetcher, o.topic);
            markStarted();
          }
          const newest = o.newest;
          let fetching = positions;
          if (newest && busy) {
            // The records that came during the pause may be more than the window shows: ask where
            // the partitions end and fetch only the newest of them.
            const share = allot(positions, await ends(fetcher, o.topic), newest.records, turn);
            turn = share.next;
            if (share.skipped > 0) newest.onSkipped(share.skipped);
            // Nothing came meanwhile: wait at the broker for what comes next, on every partition.
            if (share.fetch.size > 0) fetching = share.fetch;
          }
          const fetchedAt = Date.now();
          const fetched = await fetchCommitted(fetcher, o.topic, fetching, {
            maxWaitTime: o.maxWaitMs ?? 250, maxBytes: o.maxBytes ?? 4 << 20, partitionMaxBytes: o.partitionMaxBytes ?? 1 << 20,
          });
          let count = 0;
          let behind = false;
          for (const f of fetched) {
            positions.set(f.partition, f.nextOffset);
            count += f.records.length;
            if (f.lastStableOffset > f.nextOffset) behind = true;
            if (f.records.length > 0 && !o.signal.aborted) await onRecords(f.records.map((r) => ({ ...r, partition: f.partition })));
          }
          if (newest) {
            // A busy topic is fetched once per window: what comes meanwhile is shared out before
            // the next fetch (a burst larger than one fetch too: the next share jumps over it).
            busy = count > 0 || behind;
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
      await forceClose(fetcher);
    }
  })();
  return { started, done };
}
