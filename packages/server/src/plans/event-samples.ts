// Where `plans infer` reads a source's events from, bounded either way. Embedded store: the
// events table, newest first, back to `since`, in short ranges with a turn for the event loop
// between them (the admin API runs beside ingestion). Kafka: the raw-events topic from `since` on
// (records whose source-id header is the source), through @inlet/kafka's readTopic, stopping once
// enough events are read or enough records scanned.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { KafkaSecurity, TopicRecord } from '@inlet/kafka';
import type { InletEvent } from '@inlet/schema';
import type { DatabaseReader } from '../db/reader.ts';

export interface SampleLimits {
  /** events of the source to read at most (default 100,000) */
  maxEvents?: number;
  /** records (of any source) to look at at most (default 1,000,000) */
  maxScanned?: number;
}

export interface SampleResult {
  events: number;
  scanned: number;
  /** stopped by a limit before reaching `since` (embedded) or the topic's end (Kafka) */
  truncated: boolean;
}

/** Calls `each` with events of `sourceId` received since `sinceMs`. */
export type EventSamples = (sourceId: string, sinceMs: number, each: (event: InletEvent) => void, limits?: SampleLimits) => Promise<SampleResult>;

const DEFAULT_MAX_EVENTS = 100_000;
const DEFAULT_MAX_SCANNED = 1_000_000;
/** positions read per query */
const RANGE = 5000;

export function embeddedSamples(reader: DatabaseReader): EventSamples {
  return async (sourceId, sinceMs, each, limits = {}) => {
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    const maxScanned = limits.maxScanned ?? DEFAULT_MAX_SCANNED;
    let to = reader.lastEventSeq() + 1;
    let events = 0;
    let scanned = 0;
    while (to > 1) {
      if (scanned >= maxScanned) return { events, scanned, truncated: true };
      const from = Math.max(1, to - RANGE);
      const { records, latestMs } = reader.sourceEventsIn(sourceId, sinceMs, from, to);
      scanned += to - from;
      for (const record of records) {
        if (events >= maxEvents) return { events, scanned, truncated: true };
        each(record);
        events++;
      }
      // Positions follow arrival: once a whole range is older than `since`, so is all before it
      // (replayed events, stored late with the time they first came, are not counted in latestMs).
      if (latestMs !== null && latestMs < sinceMs) break;
      to = from;
      await yieldToEventLoop();
    }
    return { events, scanned, truncated: false };
  };
}

export function kafkaSamples(options: { brokers: string[]; security?: KafkaSecurity; clientId: string; topic: string }): EventSamples {
  return async (sourceId, sinceMs, each, limits = {}) => {
    const { readTopic } = await import('@inlet/kafka');
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    const maxScanned = limits.maxScanned ?? DEFAULT_MAX_SCANNED;
    const stop = new AbortController();
    let events = 0;
    let scanned = 0;
    await readTopic({ brokers: options.brokers, security: options.security, clientId: `${options.clientId}-plans-infer`, topic: options.topic, fromTimestampMs: sinceMs, signal: stop.signal }, (records) => {
      for (const record of records) {
        if (events >= maxEvents || scanned >= maxScanned) {
          stop.abort();
          return;
        }
        scanned++;
        if (!record.value || headerOf(record.headers, 'source-id') !== sourceId) continue;
        let event: InletEvent & { receivedAt?: unknown };
        try {
          event = JSON.parse(record.value.toString()) as InletEvent;
        } catch {
          continue; // Not JSON: not a record the sink wrote.
        }
        // A replayed event is written now with the time it first came: "since" is about the latter,
        // as on the embedded store.
        if (typeof event.receivedAt === 'string' && Date.parse(event.receivedAt) < sinceMs) continue;
        each(event);
        events++;
      }
    });
    return { events, scanned, truncated: stop.signal.aborted };
  };
}

function headerOf(headers: TopicRecord['headers'], name: string): string | undefined {
  for (const [key, value] of headers) if (key?.toString() === name) return value?.toString();
  return undefined;
}
