// Follows a topic from its end as it stands when following starts: every committed record written
// after that, as it arrives, until the signal is aborted. No consumer group and no committed
// offsets: a watcher (the console's live view) that every server instance can run on its own and
// that leaves nothing behind. Errors (a broker away, a leader moving) are retried after a pause;
// a position that fell off the log jumps to the end.
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
          const fetched = await fetchCommitted(fetcher, o.topic, positions, { maxWaitTime: o.maxWaitMs ?? 250, maxBytes: 4 << 20, partitionMaxBytes: 1 << 20 });
          for (const f of fetched) {
            positions.set(f.partition, f.nextOffset);
            if (f.records.length > 0 && !o.signal.aborted) await onRecords(f.records.map((r) => ({ ...r, partition: f.partition })));
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
