// "1h", "30m", "7d" or an ISO timestamp, as the `--since` of commands and the admin API take them.
import { isTimestamp, parseDate } from '@inlet/schema';

/** The latest and earliest moments a Date holds (±100,000,000 days from 1970): beyond, toISOString throws. */
const MAX_DATE_MS = 8.64e15;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** The moment `text` names: a duration back from `nowMs`, or a timestamp. Undefined when it is neither. */
export function parseSince(text: string, nowMs = Date.now()): number | undefined {
  const duration = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (duration) {
    const at = nowMs - Number(duration[1]) * UNITS[duration[2]];
    return at >= -MAX_DATE_MS ? at : undefined;
  }
  // isTimestamp: a date Date.parse reads (not "2020-02-30", which it reads as 1 March); parseDate:
  // without a zone, UTC, as events' own times are read.
  return isTimestamp(text) ? parseDate(text) : undefined;
}
