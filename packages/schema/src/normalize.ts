import { isIP } from 'node:net';
import type { InletEvent, IpPolicy, NormalizedRecord } from './event.ts';
import { correctTime, correctTimestamp, isoTime, parseDate } from './clock.ts';
import { applyIpPolicy } from './ip.ts';
import { newMessageId } from './uuid.ts';

export interface Enrichment {
  sourceId: string;
  receivedAtMs: number;
  /** the real peer address (never the client's claim) */
  ip?: string;
  ipPolicy: IpPolicy;
  /** a batch-level sentAt, used when the event has none of its own */
  sentAt?: string;
  /**
   * Keep a `context.ip` the client sent (a valid address) instead of the peer's, and set none
   * without one: for server sources, whose back ends forward their end user's address and whose
   * peer is the back end itself. The IP policy applies to it too.
   */
  keepClientIp?: boolean;
  /**
   * The client's time is taken as given, neither corrected by sentAt nor bounded to 24 h / 30 min:
   * an import of history, or a server source (a back end's own clock, which sets a past
   * `timestamp` to record history).
   */
  timeAsGiven?: boolean;
}

export type Normalizer = (event: InletEvent) => NormalizedRecord;

/**
 * Fields the normalizer sets itself, and those a client may not put in storage. A switch, not a
 * Set: this runs for every key of every event, and the switch is measurably cheaper.
 */
function isSetHere(key: string): boolean {
  switch (key) {
    case 'type': case 'messageId': case 'sourceId': case 'receivedAt': case 'timestamp': case 'context':
    case 'originalTimestamp': case 'sentAt': case 'writeKey': case '__proto__':
      return true;
  }
  return false;
}

/** Ids may arrive as numbers; empty strings and null are no id at all. */
function fixId(record: NormalizedRecord, key: 'userId' | 'anonymousId'): void {
  const value = record[key];
  if (typeof value === 'string' && value !== '') return;
  if (typeof value === 'number') record[key] = String(value);
  else if (value !== undefined) delete record[key];
}

/**
 * Builds records for the events of one request. What is the same for all of them (the peer's IP
 * after the source's policy, receivedAt, the batch's sentAt) is worked out once, here, because
 * this runs for every event Inlet takes. Only a server source's forwarded addresses differ by event.
 */
export function createNormalizer(enrichment: Enrichment): Normalizer {
  const { sourceId, receivedAtMs, ipPolicy, keepClientIp } = enrichment;
  const bounded = !enrichment.timeAsGiven;
  const receivedAt = isoTime(receivedAtMs);
  const peerIp = applyIpPolicy(enrichment.ip, ipPolicy);
  const batchSentAt = enrichment.sentAt;
  const batchSentMs = batchSentAt === undefined ? Number.NaN : parseDate(batchSentAt);

  return (event) => {
    // The Segment spec's precedence: a `timestamp` the caller set is when the event happened (it
    // becomes originalTimestamp); an SDK's own originalTimestamp (the time of the call) comes second.
    const clientTime = event.timestamp ?? event.originalTimestamp;
    const sentAt = event.sentAt ?? batchSentAt;
    const timestampMs = event.sentAt === undefined ? correctTime(receivedAtMs, clientTime, batchSentMs, bounded) : correctTimestamp(receivedAtMs, clientTime, sentAt, bounded);
    // Not a spread: V8 gives a spread copy a map that makes adding `ip` and JSON.stringify several
    // times slower. (A `__proto__` key, which Object.assign would not copy as data, fails validation.)
    const context = Object.assign({}, event.context);
    const claimed = context.ip;
    // A server source's peer is its back end, not a user: Segment fills in the address for
    // client-side events only. Such an event has the address its back end says, or none.
    const ip = !keepClientIp ? peerIp : typeof claimed === 'string' && isIP(claimed) !== 0 ? applyIpPolicy(claimed, ipPolicy) : undefined;
    if (ip !== undefined) context.ip = ip;
    else if (context.ip !== undefined) delete context.ip;
    // Inlet's own marks (checked against plan N, replayed from a failed entry) are the server's to
    // set: a client's would pass its events off as checked or replayed to whoever reads them.
    if (context.inlet !== undefined) delete context.inlet;
    // A literal of the enriched fields, then the client's other fields copied in: V8 builds this
    // several times faster than a spread copy that is then extended.
    const record = {
      type: event.type,
      messageId: event.messageId ?? newMessageId(receivedAtMs),
      sourceId,
      receivedAt,
      timestamp: timestampMs === receivedAtMs ? receivedAt : isoTime(timestampMs),
      context,
    } as NormalizedRecord;
    if (clientTime !== undefined) record.originalTimestamp = clientTime;
    if (sentAt !== undefined) record.sentAt = sentAt;
    for (const key in event) if (!isSetHere(key)) record[key] = event[key];
    fixId(record, 'userId');
    fixId(record, 'anonymousId');
    if (record.groupId !== undefined) record.groupId = String(record.groupId);
    if (record.previousId !== undefined) record.previousId = String(record.previousId);
    if (record.type === 'page') {
      record.event ??= 'page_viewed';
      record.category ??= 'page';
    }
    return record;
  };
}

/**
 * The record Inlet stores for a validated event. Builds a new object; the write key, if a client
 * put one in the event, never reaches storage.
 */
export function normalizeEvent(event: InletEvent, enrichment: Enrichment): NormalizedRecord {
  return createNormalizer(enrichment)(event);
}
