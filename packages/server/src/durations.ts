// "1h", "30m", "7d" or an ISO timestamp, as the `--since` of commands and the admin API take them.

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** The moment `text` names: a duration back from `nowMs`, or a timestamp. Undefined when it is neither. */
export function parseSince(text: string, nowMs = Date.now()): number | undefined {
  const duration = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (duration) return nowMs - Number(duration[1]) * UNITS[duration[2]];
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}
