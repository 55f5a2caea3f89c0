// Failed events on Kafka: the failed-events topic is the store. An entry is a record (key = source
// id; headers source-id, reason, failed-id; value = the entry's JSON); what happens to it later is
// a marker record after it in the same partition (same key): `replayed`, or `refailed` with
// today's reasons. Reading folds the markers over the entries, so it reads the topic (from the
// time asked for, when one is).
//
// A replay writes, in one Kafka transaction per chunk, the events that pass (to raw-events, laid
// out by the record contract, like the sink writes them) and the markers of their entries. A
// replay killed half way leaves whole chunks committed and the open one aborted (the next replay's
// producer fences it, under the same transactional id), so running it again stores nothing twice.
import { createTransactionalProducer, forceClose, MAX_PRODUCE_BYTES, readTopic, toKafkaRecord, type BufferProducer, type KafkaSecurity, type TopicRecord } from '@inlet/kafka';
import type { Limits } from '@inlet/schema';
import { failedRecord, type FailedEvent } from './failed-event.ts';
import { emptySummary, type FailedFilter, type FailedPage, type FailedStore, type FailedView, type ReplayOptions, type ReplaySummary } from './failed-store.ts';
import type { FailureReason } from './reasons.ts';
import type { PlanLookup } from '../plans/registry.ts';
import { recheck } from './recheck.ts';

export interface KafkaFailedStoreOptions {
  brokers: string[];
  security?: KafkaSecurity;
  /** where replayed events go: raw-events */
  topic: string;
  failedTopic: string;
  clientId: string;
  /** today's limits, which a replay checks against */
  limits: Limits;
  /** told how many entries of a source a replay stored (for the server's counters) */
  onReplayed?(sourceId: string, entries: number): void;
  /** each source's tracking plan now, which a replay checks events against */
  plans?: PlanLookup;
}

/** the header that tells a marker record from an entry */
export const MARKER = 'inlet-marker';
/** Entries per replay transaction. */
const REPLAY_CHUNK = 500;
/** Record timestamps are the writer's clock: start reading this much before a time asked for. */
const CLOCK_MARGIN_MS = 5 * 60_000;

type Marker = { kind: 'replayed'; replayedAt: string } | { kind: 'refailed'; reason: FailureReason; errors: string[]; plan?: FailedEvent['plan'] };
type Message = { topic: string; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> };

function header(record: TopicRecord, name: string): string | undefined {
  for (const [key, value] of record.headers) if (key?.toString() === name) return value?.toString();
  return undefined;
}

/** The time a UUIDv7 id was made (its first 48 bits). */
const timeOfId = (id: string): number | undefined => {
  const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  return Number.isFinite(ms) ? ms : undefined;
};

function matches(entry: FailedEvent, filter: FailedFilter): boolean {
  if (filter.id !== undefined && entry.id !== filter.id) return false;
  if (filter.sourceId !== undefined && entry.sourceId !== filter.sourceId) return false;
  if (filter.reason !== undefined && entry.reason !== filter.reason) return false;
  const at = Date.parse(entry.receivedAt);
  if (filter.sinceMs !== undefined && at < filter.sinceMs) return false;
  if (filter.untilMs !== undefined && at >= filter.untilMs) return false;
  return true;
}

function view(entry: FailedEvent, marker: Marker | undefined): FailedView {
  if (marker?.kind === 'replayed') return { ...entry, status: 'replayed', replayedAt: marker.replayedAt };
  if (marker?.kind === 'refailed') return { ...entry, reason: marker.reason, errors: marker.errors, plan: marker.plan, status: 'failed', replayedAt: null };
  return { ...entry, status: 'failed', replayedAt: null };
}

function message(topic: string, key: string, value: string, headers: Record<string, string>): Message {
  return { topic, key: Buffer.from(key), value: Buffer.from(value), headers: new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])) };
}

export class KafkaFailedStore implements FailedStore {
  readonly kind = 'kafka';
  readonly #options: KafkaFailedStoreOptions;

  constructor(options: KafkaFailedStoreOptions) {
    this.#options = options;
  }

  #client(suffix: string) {
    return { brokers: this.#options.brokers, security: this.#options.security, clientId: `${this.#options.clientId}-${suffix}` };
  }

  /** Where reading can start for a filter: a time, when it names one. */
  #from(filter: FailedFilter): number | undefined {
    const since = filter.id !== undefined ? timeOfId(filter.id) : filter.sinceMs;
    return since === undefined ? undefined : since - CLOCK_MARGIN_MS;
  }

  /** Pass one: the markers (and the ends read up to, for pass two to stop at the same place). */
  async #markers(fromTimestampMs: number | undefined): Promise<{ markers: Map<string, Marker>; ends: Map<number, bigint>; replayedEvents: Set<string> }> {
    const markers = new Map<string, Marker>();
    const replayedEvents = new Set<string>();
    const ends = await readTopic({ ...this.#client('failed-read'), topic: this.#options.failedTopic, fromTimestampMs }, (records) => {
      for (const record of records) {
        const kind = header(record, MARKER);
        const id = header(record, 'failed-id');
        if (!kind || !id || !record.value) continue;
        const value = jsonObject(record.value);
        if (!value) continue;
        if (kind === 'replayed') {
          markers.set(id, { kind, replayedAt: String(value.replayedAt) });
          const sourceId = header(record, 'source-id');
          if (sourceId && Array.isArray(value.messageIds)) for (const messageId of value.messageIds) if (typeof messageId === 'string') replayedEvents.add(identity(sourceId, messageId));
        }
        // A refail after a replay cannot happen (replayed entries are not replayed again).
        else if (kind === 'refailed' && markers.get(id)?.kind !== 'replayed') markers.set(id, { kind, reason: value.reason as FailureReason, errors: value.errors as string[], plan: value.plan as FailedEvent['plan'] });
      }
    });
    return { markers, ends, replayedEvents };
  }

  /** Pass two: every entry with its marker, in partition order. */
  async #entries(fromTimestampMs: number | undefined, until: Map<number, bigint>, markers: Map<string, Marker>, each: (entry: FailedView) => unknown): Promise<void> {
    await readTopic({ ...this.#client('failed-read'), topic: this.#options.failedTopic, fromTimestampMs, until }, async (records) => {
      for (const record of records) {
        if (header(record, MARKER) || !record.value) continue;
        const entry = jsonObject(record.value) as FailedEvent | undefined;
        if (!entry || typeof entry.id !== 'string' || typeof entry.sourceId !== 'string' || entry.context === null || typeof entry.context !== 'object') continue;
        await each(view(entry, markers.get(entry.id)));
      }
    });
  }

  async list(filter: FailedFilter, limit: number, before?: string): Promise<FailedPage> {
    const from = this.#from(filter);
    const { markers, ends } = await this.#markers(from);
    const status = filter.status ?? 'failed';
    // The newest `limit` matching entries (ids are UUIDv7: they sort by time).
    const kept: FailedView[] = [];
    await this.#entries(from, ends, markers, (entry) => {
      if (!matches(entry, filter) || (status !== 'all' && entry.status !== status) || (before !== undefined && entry.id >= before)) return;
      kept.push(entry);
      if (kept.length > limit * 2) {
        kept.sort((a, b) => (a.id < b.id ? 1 : -1));
        kept.length = limit + 1; // one more than a page: there is a next page
      }
    });
    kept.sort((a, b) => (a.id < b.id ? 1 : -1));
    const page = kept.slice(0, limit);
    return { failed: page, next: kept.length > limit ? page[page.length - 1].id : null };
  }

  async get(id: string): Promise<FailedView | undefined> {
    let found: FailedView | undefined;
    const from = this.#from({ id });
    const { markers, ends } = await this.#markers(from);
    await this.#entries(from, ends, markers, (entry) => { if (entry.id === id) found = entry; });
    return found;
  }

  async replay(filter: FailedFilter, options: ReplayOptions = {}): Promise<ReplaySummary> {
    const dryRun = options.dryRun ?? false;
    const summary = emptySummary(dryRun);
    const { failedTopic, topic, limits } = this.#options;
    // First, so a replay killed before this one has its open transaction ended (and the entries it
    // had not committed become pending again) before anything is read.
    const producer = dryRun ? undefined : await createTransactionalProducer({ ...this.#client('replay'), transactionalId: `inlet-replay-${failedTopic}`, retries: 5 });
    try {
      const from = this.#from(filter);
      const { markers, ends, replayedEvents } = await this.#markers(from);
      let chunk: { messages: Message[]; bySource: Map<string, number>; entries: number } = { messages: [], bySource: new Map(), entries: 0 };
      const commit = async () => {
        if (producer && chunk.messages.length > 0) {
          await this.#commit(producer, chunk.messages);
          for (const [sourceId, n] of chunk.bySource) this.#options.onReplayed?.(sourceId, n);
        }
        chunk = { messages: [], bySource: new Map(), entries: 0 };
        options.onProgress?.({ ...summary });
      };
      // What replays have stored, by source and messageId. A replayed event keeps the time it first
      // came, outside the processor's window by the time it is replayed, so the processor would let
      // a second copy through: a client that resent a refused event has two entries for it. Each
      // replayed marker names the events it stored, and the markers are read before any entry, so
      // the order entries are replayed in does not matter. (The embedded store has its unique index.)
      // Replays read from the filter's time on: one before it is not known (markers an older Inlet
      // wrote name no events; their entries' own messageIds stand in for them).
      await this.#entries(from, ends, markers, async (entry) => {
        if (entry.status === 'replayed' && entry.kind === 'event' && entry.messageId) replayedEvents.add(identity(entry.sourceId, entry.messageId));
        if (entry.status !== 'failed' || !matches(entry, filter)) return;
        summary.matched++;
        const outcome = recheck(entry, limits, await this.#options.plans?.(entry.sourceId));
        const at = new Date().toISOString();
        const markerHeaders = (kind: string) => ({ 'source-id': entry.sourceId, 'failed-id': entry.id, [MARKER]: kind });
        if (outcome.ok) {
          summary.passed++;
          const fresh = outcome.events.filter(({ record }) => !replayedEvents.has(identity(entry.sourceId, record.messageId)));
          for (const { record } of fresh) replayedEvents.add(identity(entry.sourceId, record.messageId));
          if (!dryRun) {
            summary.stored += fresh.length;
            summary.duplicates += outcome.events.length - fresh.length;
          }
          for (const { record, json } of fresh) {
            const { key, value, headers } = toKafkaRecord(record, json);
            chunk.messages.push(message(topic, key, value, headers));
          }
          chunk.messages.push(message(failedTopic, entry.sourceId, JSON.stringify({ replayedAt: at, messageIds: fresh.map(({ record }) => record.messageId) }), markerHeaders('replayed')));
          chunk.bySource.set(entry.sourceId, (chunk.bySource.get(entry.sourceId) ?? 0) + 1);
        } else {
          summary.stillFailing++;
          const unchanged = outcome.reason === entry.reason && JSON.stringify(outcome.errors) === JSON.stringify(entry.errors);
          if (!unchanged) {
            const { entry: refailed } = failedRecord({ ...entry, reason: outcome.reason, errors: outcome.errors, plan: outcome.plan });
            chunk.messages.push(message(failedTopic, entry.sourceId, JSON.stringify({ reason: refailed.reason, errors: refailed.errors, plan: refailed.plan }), { ...markerHeaders('refailed'), reason: refailed.reason }));
          }
        }
        if (++chunk.entries >= REPLAY_CHUNK) await commit();
      });
      await commit();
      return summary;
    } finally {
      if (producer) await forceClose(producer);
    }
  }

  /** One transaction: the chunk's events and markers, in produce requests under 1 MB. */
  async #commit(producer: BufferProducer, messages: Message[]): Promise<void> {
    const transaction = await producer.beginTransaction();
    let batch: Message[] = [];
    let bytes = 0;
    for (const m of messages) {
      const size = m.key.length + m.value.length + 128;
      if (batch.length > 0 && bytes + size > MAX_PRODUCE_BYTES) {
        await transaction.send({ messages: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(m);
      bytes += size;
    }
    if (batch.length > 0) await transaction.send({ messages: batch });
    await transaction.commit();
  }

  async close(): Promise<void> {}
}

/**
 * A record's value as a JSON object; undefined for one this server did not write (not JSON, not an
 * object): it is skipped, as the live view and plan inference skip such records, instead of
 * failing every list and replay (and quoting its bytes in the log).
 */
function jsonObject(value: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(value.toString());
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const identity = (sourceId: string, messageId: string) => `${sourceId}\u001f${messageId}`;
