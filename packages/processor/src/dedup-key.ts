// What makes two raw-events records "the same event", and when the first one was received.
// Duplicate = same source and messageId; an event without a messageId falls back to its name,
// user and timestamp (the closest thing to an identity such an event has).

const SEPARATOR = '\u001f';

export interface DedupIdentity {
  /** 'm…' for a messageId key, 'f…' for the fallback key; never starts with the changelog's reserved prefix */
  key: string;
  /** receivedAt in ms since the epoch; the record's Kafka timestamp when the value has none */
  receivedAt: number;
}

/** Looks up one header by name (called only when the value lacks the field). */
export type HeaderLookup = (name: string) => string | undefined;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Builds the dedup identity of one raw record, or undefined when the value is not a JSON object. */
export function dedupIdentity(value: Buffer | null | undefined, header: HeaderLookup, recordTimestampMs: number): DedupIdentity | undefined {
  if (!value || value.length === 0) return undefined;
  let event: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    event = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const sourceId = text(event.sourceId) ?? header('source-id') ?? '';
  const parsedReceivedAt = typeof event.receivedAt === 'string' ? Date.parse(event.receivedAt) : Number.NaN;
  const receivedAt = Number.isFinite(parsedReceivedAt) ? parsedReceivedAt : recordTimestampMs;
  const messageId = text(event.messageId) ?? header('message-id');
  if (messageId) return { key: `m${sourceId}${SEPARATOR}${messageId}`, receivedAt };
  return { key: fallbackKey(sourceId, event), receivedAt };
}

export function fallbackKey(sourceId: string, event: Record<string, unknown>): string {
  const name = text(event.event) ?? text(event.name) ?? '';
  const user = text(event.userId) ?? text(event.anonymousId) ?? '';
  const timestamp = text(event.timestamp) ?? text(event.originalTimestamp) ?? '';
  const type = text(event.type) ?? '';
  return ['f' + sourceId, type, name, user, timestamp].join(SEPARATOR);
}
