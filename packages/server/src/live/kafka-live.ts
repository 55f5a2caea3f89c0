// Live events on Kafka: while someone watches, this server follows raw-events and failed-events
// from their ends (no consumer group, nothing committed), so a console on any instance sees what
// every instance stores. Records are decoded only here; the hub fans them out.
import { followTopic, type FollowTopicOptions, type KafkaSecurity, type TopicRecord } from '@inlet/kafka';
import type { Logger } from 'pino';
import { MARKER } from '../failed/kafka-failed-store.ts';
import { failedEvent, LIVE_EVENTS_PER_WINDOW, LIVE_WINDOW_MS, storedEvent, type LiveEvent, type LiveOrigin } from './live-hub.ts';

export interface KafkaLiveOptions {
  brokers: string[];
  security?: KafkaSecurity;
  clientId: string;
  topic: string;
  failedTopic: string;
  logger: Logger;
}

const hasMarker = (record: TopicRecord) => record.headers.some(([key]) => key?.toString() === MARKER);

// The live budget (live-hub.ts): each follower fetches about that many records per window, the
// newest of a few partitions in turn, jumping over the rest (counted as dropped) — fetching every
// record and decoding only the budget still cost a fifth of a Kafka instance's W1 throughput. What
// a fetch brings beyond the budget (records that came between asking where a partition ends and
// fetching) is counted as skipped, not decoded.
const WINDOW_MS = LIVE_WINDOW_MS;
const MAX_DECODED_PER_WINDOW = LIVE_EVENTS_PER_WINDOW;
// A fetch's bound: the newest 100-500 of W1's events are 55-270 kB, from a few partitions.
const FETCH_MAX_BYTES = 512 << 10;
const PARTITION_MAX_BYTES = 64 << 10;

export class KafkaLiveOrigin implements LiveOrigin {
  private readonly options: KafkaLiveOptions;
  private following: { abort: AbortController; done: Promise<void>[] } | undefined;

  constructor(options: KafkaLiveOptions) {
    this.options = options;
  }

  async start(emit: (events: LiveEvent[]) => void, lost: (count: number) => void): Promise<void> {
    const abort = new AbortController();
    const { brokers, security, clientId, logger } = this.options;
    let lastErrorLog = 0;
    // Shared by both topics: the budget is the viewers', whichever topic the records come from.
    let windowStart = 0;
    let decodedInWindow = 0;
    const follow = (topic: string, decode: (json: string) => LiveEvent) => {
      const options: FollowTopicOptions = {
        brokers, security, clientId: `${clientId}-live`, topic, signal: abort.signal,
        newest: { records: MAX_DECODED_PER_WINDOW, everyMs: WINDOW_MS, onSkipped: lost },
        maxBytes: FETCH_MAX_BYTES, partitionMaxBytes: PARTITION_MAX_BYTES,
        onError: (error) => {
          // At most one line a minute while Kafka is away; never a record's content.
          if (Date.now() - lastErrorLog < 60_000) return;
          lastErrorLog = Date.now();
          logger.warn({ topic, error: (error as Error).message }, 'live view cannot read from Kafka; retrying');
        },
      };
      return followTopic(options, (records) => {
        const now = Date.now();
        if (now - windowStart >= WINDOW_MS) { windowStart = now; decodedInWindow = 0; }
        const shown = records.filter((record) => record.value && !hasMarker(record));
        // The newest are the ones the page shows: what does not fit the window's budget is the oldest.
        const decodable = Math.min(shown.length, MAX_DECODED_PER_WINDOW - decodedInWindow);
        const skipped = shown.length - decodable;
        decodedInWindow += decodable;
        const events: LiveEvent[] = [];
        for (const record of shown.slice(skipped)) {
          try { events.push(decode(record.value!.toString('utf8'))); } catch { /* not an Inlet record: not shown */ }
        }
        if (events.length > 0) emit(events);
        if (skipped > 0) lost(skipped);
      });
    };
    const raw = follow(this.options.topic, storedEvent);
    const failed = follow(this.options.failedTopic, failedEvent);
    this.following = { abort, done: [raw.done, failed.done] };
    // Wait for the ends to be known, so an event stored after the viewer's stream opened is shown;
    // not for ever, though: with Kafka away the stream opens and shows events once it is back.
    await Promise.race([Promise.all([raw.started, failed.started]), new Promise((r) => setTimeout(r, 5000))]);
  }

  async stop(): Promise<void> {
    const following = this.following;
    this.following = undefined;
    if (!following) return;
    following.abort.abort();
    await Promise.allSettled(following.done);
  }
}
