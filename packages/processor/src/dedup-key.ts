// What makes two raw-events records "the same event", and when the first one was received.
// Duplicate = same source and messageId; an event without a messageId falls back to its name,
// user and timestamp (the closest thing to an identity such an event has).
//
// The identity is kept as its 128-bit MD5 digest (16 latin1 chars): a fixed ~60-80 bytes per key
// in memory and 16 bytes in the changelog, whatever the ids look like, instead of ~240 bytes for
// the text. Accidental collisions are out of reach (~1e-20 for a billion keys); deliberate ones
// need both colliding events chosen by the sender, so a sender can only merge its own events.
import { hash } from 'node:crypto';
import { HEADERS } from '@inlet/kafka/contract';

const SEPARATOR = '\u001f';

export interface DedupIdentity {
  /** digest of the identity: always 16 characters, so it never equals the changelog's watermark key */
  key: string;
  /** receivedAt in ms since the epoch; the record's Kafka timestamp when the value has none */
  receivedAt: number;
}

/** Looks up one header by name. */
export type HeaderLookup = (name: string) => string | undefined;

const RECEIVED_AT = Buffer.from('"receivedAt":"');
const OPEN_BRACE = 0x7b;
const QUOTE = 0x22;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Builds the dedup identity of one raw record, or undefined when the value is not a JSON object.
 * The ids come from the `source-id` / `message-id` headers the sink writes, else from the value.
 */
export function dedupIdentity(value: Buffer | null | undefined, header: HeaderLookup, recordTimestampMs: number): DedupIdentity | undefined {
  if (!value || value.length === 0) return undefined;
  const headerSource = header(HEADERS.sourceId);
  const headerMessage = header(HEADERS.messageId);
  // The common case needs only receivedAt from the value: when `"receivedAt":"` occurs exactly once
  // it is the top-level field (a nested one would make two), so the value need not be parsed.
  if (headerSource !== undefined && headerMessage && value[0] === OPEN_BRACE) {
    const at = value.indexOf(RECEIVED_AT);
    if (at > 0 && value.indexOf(RECEIVED_AT, at + RECEIVED_AT.length) < 0) {
      const start = at + RECEIVED_AT.length;
      const end = value.indexOf(QUOTE, start);
      const receivedAt = end > start && end - start <= 40 ? Date.parse(value.toString('latin1', start, end)) : Number.NaN;
      if (Number.isFinite(receivedAt)) return { key: digest(`m${headerSource}${SEPARATOR}${headerMessage}`), receivedAt };
    }
  }
  let event: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    event = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const sourceId = headerSource ?? text(event.sourceId) ?? '';
  const parsedReceivedAt = typeof event.receivedAt === 'string' ? Date.parse(event.receivedAt) : Number.NaN;
  const receivedAt = Number.isFinite(parsedReceivedAt) ? parsedReceivedAt : recordTimestampMs;
  const messageId = headerMessage || text(event.messageId);
  const identity = messageId ? `m${sourceId}${SEPARATOR}${messageId}` : fallbackIdentity(sourceId, event);
  return { key: digest(identity), receivedAt };
}

export function digest(identity: string): string {
  return hash('md5', identity, 'binary');
}

/** The identity text of an event without a messageId ('m…' texts are messageId identities). */
export function fallbackIdentity(sourceId: string, event: Record<string, unknown>): string {
  const name = text(event.event) ?? text(event.name) ?? '';
  const user = text(event.userId) ?? text(event.anonymousId) ?? '';
  const timestamp = text(event.timestamp) ?? text(event.originalTimestamp) ?? '';
  const type = text(event.type) ?? '';
  return ['f' + sourceId, type, name, user, timestamp].join(SEPARATOR);
}
