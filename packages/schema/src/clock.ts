const MAX_PAST_MS = 24 * 60 * 60 * 1000;
const MAX_FUTURE_MS = 30 * 60 * 1000;

/**
 * An ISO 8601 date or date-time (what Segment-compatible SDKs send). Date.parse alone is not
 * enough: V8 reads strings such as "1" or "foo 1" as dates in 2001.
 */
export function isTimestamp(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && /^\d{4}-\d{2}-\d{2}(?:$|[T ])/.test(value) && !Number.isNaN(parseDate(value));
}

// Validation parses an event's timestamp and normalization parses it again right after, so the
// last result is kept: the second parse of each event's time is a string comparison.
let lastText = '';
let lastMs = Number.NaN;

function parseDate(text: string): number {
  if (text !== lastText) {
    lastMs = Date.parse(text);
    lastText = text;
  }
  return lastMs;
}

/**
 * The event's time on the server's clock. When the client says both when the event happened
 * (`clientTime`) and when it sent it (`sentAt`), both readings share the device's clock error,
 * so `receivedAt - (sentAt - clientTime)` cancels it. On live routes (`bounded`), results more
 * than 24 h in the past or 30 min in the future are not believable and become server time; an
 * import of history (`bounded` false) keeps them however far off.
 */
export function correctTimestamp(receivedAtMs: number, clientTime?: string, sentAt?: string, bounded = true): number {
  return correctTime(receivedAtMs, clientTime, sentAt === undefined ? Number.NaN : parseDate(sentAt), bounded);
}

/** correctTimestamp with sentAt already parsed (NaN when absent), for a batch's sentAt parsed once. */
export function correctTime(receivedAtMs: number, clientTime: string | undefined, sentMs: number, bounded = true): number {
  if (clientTime === undefined) return receivedAtMs;
  const client = parseDate(clientTime);
  if (Number.isNaN(client)) return receivedAtMs;
  const corrected = Number.isNaN(sentMs) ? client : receivedAtMs - (sentMs - client);
  if (bounded && (corrected < receivedAtMs - MAX_PAST_MS || corrected > receivedAtMs + MAX_FUTURE_MS)) return receivedAtMs;
  return corrected;
}
