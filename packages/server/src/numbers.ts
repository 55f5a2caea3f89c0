// Numbers JSON can carry but a double cannot hold. `1e400` parses to Infinity (and would be stored
// as null); an integer id beyond 2^53 parses to a neighbouring integer (two users' ids collide).
// Either would be stored changed without anyone knowing, so such an event is rejected instead, with
// a per-event error, and kept among the failed events like any invalid one.
//
// Cheap on the common path: ids are four property checks per event; Infinity can only come from a
// number token with a three-digit exponent or an integer part of 210+ digits (with an exponent under
// 100, fewer cannot reach 1.8e308), so only a body whose text has one is
// parsed with a reviver that keeps each such number's source text (as an UnrepresentableNumber).
// Every other body is parsed by plain JSON.parse, and its events are never walked. The text scan
// costs 5-13% of what JSON.parse does on a W1 batch (bench/LOG.md, "2026-12-07, 06:15 UTC session").
import { shorten } from './shorten.ts';

/** A number JSON.parse could not hold (±Infinity); serializes as its source text, so a failed event keeps it. */
export class UnrepresentableNumber {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  toJSON(): string {
    return this.source;
  }
}

/** A digit, then the exponent: a JSON number has one before its `e` (an `e` after a letter is not tried). */
const EXPONENT = /\d[eE][+-]?\d{3}/g;
/** The shortest integer part that can overflow with a two-digit exponent: 210 nines and e99 is ~1e309; 209 digits stay under 1e308. */
const LONG_DIGITS = 210;
/** A run of LONG_DIGITS digits contains one of every STRIDE characters. */
const STRIDE = 200;

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Whether the digits (and one '.') ending just before `end` start a JSON number token: after `:`,
 * `[`, `,` or whitespace, with an optional '-'. A second '.' ends the walk: no number has two, and
 * walking on over dotted runs ("111.111.111...", in a string) made each candidate cost the whole run.
 */
function numberTokenBefore(text: string, end: number): boolean {
  let i = end - 1;
  let dots = 0;
  for (; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 46 && ++dots > 1) return false;
    if (c !== 46 && !isDigit(c)) break;
  }
  if (i === end - 1) return false;
  if (i >= 0 && text.charCodeAt(i) === 45) i--;
  if (i < 0) return true;
  const c = text.charCodeAt(i);
  return c === 58 || c === 91 || c === 44 || c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * Whether the text may hold a number that overflows: a number token with a three-digit exponent,
 * or an integer part of LONG_DIGITS+ digits. A regex finds exponent candidates (a uuid's "0e840" is
 * dismissed by what precedes it); digit runs are found by sampling every STRIDE-th character,
 * which costs next to nothing, instead of a regex over every digit. A long fraction counts too:
 * such a body only takes the slower, exact path.
 */
function mayOverflow(text: string): boolean {
  EXPONENT.lastIndex = 0;
  for (let m = EXPONENT.exec(text); m !== null; m = EXPONENT.exec(text)) if (numberTokenBefore(text, m.index + 1)) return true;
  // Samples that land in a run already measured are skipped: each run is scanned once, or a body
  // of one long run of digits would be scanned once per sample in it (quadratic: 500 KB took 2.6 s).
  let scannedTo = 0;
  for (let i = STRIDE; i < text.length + STRIDE; i += STRIDE) {
    const at = Math.min(i, text.length - 1);
    if (at < scannedTo || !isDigit(text.charCodeAt(at))) continue;
    let end = at;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    let start = at;
    while (start > 0 && isDigit(text.charCodeAt(start - 1))) start--;
    scannedTo = end;
    if (end - start >= LONG_DIGITS && numberTokenBefore(text, end)) return true;
  }
  return false;
}

/** Bodies that hold at least one UnrepresentableNumber: only their events are walked. */
const withUnrepresentable = new WeakSet<object>();

/** Whether a body parsed by parseJsonText holds a number that overflowed (kept as its text). */
export const holdsUnrepresentable = (body: object): boolean => withUnrepresentable.has(body);

function keepSource(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return new UnrepresentableNumber(context?.source ?? String(value));
  return value;
}

/** JSON.parse, except that ±Infinity comes back as an UnrepresentableNumber holding its text. */
export function parseJsonText(text: string): unknown {
  if (text.length < 5 || !mayOverflow(text)) return JSON.parse(text);
  const value: unknown = JSON.parse(text, keepSource as (key: string, value: unknown) => unknown);
  if (value !== null && typeof value === 'object' && hasUnrepresentable(value, 0)) withUnrepresentable.add(value);
  return value;
}

/**
 * How deep the walks below go: past the deepest event validation lets through (256 levels) and the
 * body around it. A body deeper than this counts as holding one; its events that deep are refused
 * for their depth anyway. A shallower bound let a number nested 64 levels deep through, stored as text.
 */
const WALK_DEPTH = 300;

function hasUnrepresentable(value: unknown, depth: number): boolean {
  if (value instanceof UnrepresentableNumber) return true;
  if (value === null || typeof value !== 'object') return false;
  if (depth > WALK_DEPTH) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (hasUnrepresentable(v, depth + 1)) return true;
  return false;
}

/** The id fields of an event: given as JSON numbers, they must be exact. */
const ID_FIELDS = ['userId', 'anonymousId', 'groupId', 'previousId'] as const;

function paths(value: unknown, path: string, out: string[], depth: number): void {
  if (out.length >= 5 || depth > WALK_DEPTH) return;
  if (value instanceof UnrepresentableNumber) {
    // (the client's key path and digits, shortened: quoted whole, a long key made answers and failed entries many times the body)
    out.push(`${shorten(path, 100) || 'the event'} is ${shorten(value.source, 100)}, beyond what a JSON number can hold here (±Infinity); send it as a string or a smaller number`);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, `${path}[${i}]`, out, depth + 1));
  else for (const [k, v] of Object.entries(value)) paths(v, path ? `${path}.${k}` : k, out, depth + 1);
}

/**
 * Why the event `item` of `body` cannot be stored exactly, or undefined when it can: an id given
 * as a number that is not an integer or is outside ±(2^53 − 1), or a number that overflowed
 * (anywhere in the event). `lossy`: what the parser kept is not what was sent (an overflow kept as
 * its text, an integer id rounded), so the event as kept must not be stored later either.
 */
export function inexactNumbers(body: object, item: unknown): { errors: string[]; lossy: boolean } | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  let errors: string[] | undefined;
  let lossy = false;
  const event = item as Record<string, unknown>;
  for (const field of ID_FIELDS) {
    const id = event[field];
    if (typeof id !== 'number' || Number.isSafeInteger(id)) continue;
    if (Number.isInteger(id)) {
      lossy = true;
      (errors ??= []).push(`${field} is a number a JSON parser cannot hold exactly (integers are exact only up to 2^53 - 1 = 9007199254740991); send ids as strings`);
    } else {
      (errors ??= []).push(`${field} is ${id}, not an integer; an id sent as a number must be an integer (or send ids as strings)`);
    }
  }
  if (withUnrepresentable.has(body)) {
    const found: string[] = [];
    paths(item, '', found, 0);
    if (found.length) {
      lossy = true;
      (errors ??= []).push(...found);
    }
  }
  return errors && { errors, lossy };
}
