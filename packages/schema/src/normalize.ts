import { randomUUID } from 'node:crypto';
import type { InletEvent, IpPolicy, JsonObject, NormalizedRecord } from './event.ts';
import { correctTimestamp } from './clock.ts';
import { applyIpPolicy } from './ip.ts';

export interface Enrichment {
  sourceId: string;
  receivedAtMs: number;
  /** the real peer address (never the client's claim) */
  ip?: string;
  ipPolicy: IpPolicy;
  /** a batch-level sentAt, used when the event has none of its own */
  sentAt?: string;
}

const asId = (v: unknown): string | undefined => (typeof v === 'number' ? String(v) : typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The record Inlet stores for a validated event. Builds a new object; the write key, if a client
 * put one in the event, never reaches storage.
 */
export function normalizeEvent(event: InletEvent, enrichment: Enrichment): NormalizedRecord {
  const { writeKey: _writeKey, receivedAt: _claimedReceivedAt, ...rest } = event;
  const clientTime = event.originalTimestamp ?? event.timestamp;
  const sentAt = event.sentAt ?? enrichment.sentAt;
  const context: JsonObject = { ...event.context };
  const ip = applyIpPolicy(enrichment.ip, enrichment.ipPolicy);
  if (ip === undefined) delete context.ip;
  else context.ip = ip;

  const record: NormalizedRecord = {
    ...rest,
    messageId: event.messageId ?? randomUUID(),
    sourceId: enrichment.sourceId,
    receivedAt: new Date(enrichment.receivedAtMs).toISOString(),
    timestamp: new Date(correctTimestamp(enrichment.receivedAtMs, clientTime, sentAt)).toISOString(),
    context,
  };
  if (clientTime !== undefined) record.originalTimestamp = clientTime;
  if (sentAt !== undefined) record.sentAt = sentAt;
  const userId = asId(event.userId);
  const anonymousId = asId(event.anonymousId);
  if (userId === undefined) delete record.userId; else record.userId = userId;
  if (anonymousId === undefined) delete record.anonymousId; else record.anonymousId = anonymousId;
  if (record.groupId !== undefined) record.groupId = String(record.groupId);
  if (record.previousId !== undefined) record.previousId = String(record.previousId);
  if (record.type === 'page') {
    record.event ??= 'page_viewed';
    record.category ??= 'page';
  }
  return record;
}
