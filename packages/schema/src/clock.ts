const MAX_PAST_MS = 24 * 60 * 60 * 1000;
const MAX_FUTURE_MS = 30 * 60 * 1000;

/**
 * An ISO 8601 date or date-time (what Segment-compatible SDKs send). Date.parse alone is not
 * enough: V8 reads strings such as "1" or "foo 1" as dates in 2001.
 */
export function isTimestamp(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && /^\d{4}-\d{2}-\d{2}(?:$|[T ])/.test(value) && !Number.isNaN(parseDate(value)) && dayExists(value);
}

/** Date.parse takes "2025-02-30" as 2 March: a day past its month's end is no date. */
function dayExists(text: string): boolean {
  const day = (text.charCodeAt(8) - 48) * 10 + text.charCodeAt(9) - 48;
  if (day <= 28) return true;
  const year = Number(text.slice(0, 4));
  const month = (text.charCodeAt(5) - 48) * 10 + text.charCodeAt(6) - 48;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month]);
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// Validation parses an event's timestamp and normalization parses it again right after, so the
// last result is kept: the second parse of each event's time is a string comparison.
let lastText = '';
let lastMs = Number.NaN;

/** A date-time without a zone ("2026-12-07T10:00:00.123456", as Python's utcnow().isoformat() writes). */
const WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

/**
 * Milliseconds since the epoch, NaN when the text is no date. A date-time without a zone is read
 * as UTC: Date.parse reads it in the server's time zone, so the same event would be stored hours
 * apart by servers in different zones.
 */
export function parseDate(text: string): number {
  if (text !== lastText) {
    // (SDKs' times end in Z: those skip the pattern.)
    const zoneless = text.length > 10 && text.charCodeAt(text.length - 1) !== 90 && WITHOUT_ZONE.test(text);
    lastMs = Date.parse(zoneless ? `${text}Z` : text);
    lastText = text;
  }
  return lastMs;
}

/**
 * The event's time on the server's clock. When the client says both when the event happened
 * (`clientTime`) and when it sent it (`sentAt`), both readings share the device's clock error,
 * so `receivedAt - (sentAt - clientTime)` cancels it. For a device (`bounded`), results more
 * than 24 h in the past or 30 min in the future are not believable and become server time. An
 * import of history, or a back end's own clock (`bounded` false), gives the time as it is: a
 * replayed payload's sentAt is as old as its events, and a back end sets a past `timestamp` to
 * record history, as Segment's HTTP API documents for any call (RudderStack likewise).
 */
export function correctTimestamp(receivedAtMs: number, clientTime?: string, sentAt?: string, bounded = true): number {
  // (unbounded, sentAt is not used: not parsed, which would also push clientTime out of the cache)
  return correctTime(receivedAtMs, clientTime, sentAt === undefined || !bounded ? Number.NaN : parseDate(sentAt), bounded);
}

/** correctTimestamp with sentAt already parsed (NaN when absent), for a batch's sentAt parsed once. */
export function correctTime(receivedAtMs: number, clientTime: string | undefined, sentMs: number, bounded = true): number {
  if (clientTime === undefined) return receivedAtMs;
  const client = parseDate(clientTime);
  if (Number.isNaN(client)) return receivedAtMs;
  if (!bounded) return client;
  const corrected = Number.isNaN(sentMs) ? client : receivedAtMs - (sentMs - client);
  if (corrected < receivedAtMs - MAX_PAST_MS || corrected > receivedAtMs + MAX_FUTURE_MS) return receivedAtMs;
  return corrected;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => (n < 10 ? `0${n}` : `${n}`));
const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00.000Z: from here on toISOString writes a six-digit year. */
const YEAR_10000_MS = 253_402_300_800_000;

/**
 * `new Date(ms).toISOString()`, four times faster: V8's took 0.65-0.75 µs on the 2026-12-06
 * machine, once per event and once per request, about 5% of a batch event's main-thread CPU.
 * Years 1970-9999 are computed here (Howard Hinnant's days-to-civil, without the Date object);
 * anything else is left to Date.
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  // Days counted from 0000-03-01, in 400-year eras, so leap days fall at the end of a year.
  const sinceMarch0 = days + 719_468;
  const era = Math.floor(sinceMarch0 / 146_097);
  const dayOfEra = sinceMarch0 - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}T${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}
