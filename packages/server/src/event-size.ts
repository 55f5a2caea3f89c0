// The per-event size limit, one rule for the ingest route and for a replay's recheck. The limit is
// on the event as sent, as Segment's 32 KB and the SDKs' own checks count it: an event just under
// it must not be refused for the ~230 bytes the server adds (messageId, sourceId, receivedAt,
// timestamp, context.ip, a page's event and category). The stored record stays within the limit
// plus ADDED_BYTES_ALLOWANCE (@inlet/schema, which the Node SDK's checks share).
import { ADDED_BYTES_ALLOWANCE } from '@inlet/schema';

/** The record's size in UTF-8 when it is over `maxBytes`; counting bytes is skipped when it cannot be. */
function oversize(json: string, maxBytes: number): number | undefined {
  if (json.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(json);
  return bytes > maxBytes ? bytes : undefined;
}

/** Why an event is too large (its record's `json`, the `item` as received), or undefined when it is not. */
export function tooLarge(json: string, item: unknown, maxEventBytes: number): string | undefined {
  const stored = oversize(json, maxEventBytes);
  if (stored === undefined) return undefined;
  const sent = Buffer.byteLength(JSON.stringify(item));
  if (sent > maxEventBytes) return `event is ${sent} bytes; the limit is ${maxEventBytes}`;
  if (stored > maxEventBytes + ADDED_BYTES_ALLOWANCE) return `event is ${stored} bytes as stored; the limit is ${maxEventBytes + ADDED_BYTES_ALLOWANCE} with what the server adds`;
  return undefined;
}
