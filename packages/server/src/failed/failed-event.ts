// What Inlet keeps of an event it could not store: enough to tell the team why, and to store it
// later exactly as it would have been stored then (same messageId, receivedAt, client address).
import { createHash } from 'node:crypto';
import { applyIpPolicy, newMessageId, type EventType, type IpPolicy } from '@inlet/schema';
import { MAX_PRODUCE_BYTES } from '@inlet/kafka/contract';
import { holdsUnrepresentable } from '../numbers.ts';
import type { Violation } from '../plans/plan.ts';
import { shorten } from '../shorten.ts';
import type { FailureReason } from './reasons.ts';

export interface FailedEvent {
  /** a UUIDv7, so ids sort by time */
  id: string;
  sourceId: string;
  receivedAt: string;
  reason: FailureReason;
  /** the reasons in words: what the client was told */
  errors: string[];
  /** the route it came in on, e.g. /v1/batch */
  route: string;
  /** `event`: one event (of a batch, or a single-event route); `body`: a whole request body that could not be split into events */
  kind: 'event' | 'body';
  /** the event's place in its batch */
  index?: number;
  /** the event's messageId, or the one it was given when it had none: a replay stores it under this id */
  messageId?: string;
  /** the event as received, or the body when it was JSON (a `writeKey` in it is removed) */
  event?: unknown;
  /** the body's bytes when they were not JSON (up to the body limit); base64 when they are not UTF-8 */
  raw?: { encoding: 'utf8' | 'base64'; data: string; bytes: number; truncated: boolean };
  /**
   * What normalizing it needs and cannot learn later: the peer's address (after the source's IP
   * policy, which is kept too: a server source's forwarded addresses get it on replay), the batch's
   * sentAt, the route's event type, whether the source kept forwarded addresses (a server source)
   * and whether its times were taken as given (`historical`, a name kept from when only /v1/import
   * did that: the import route, or a server source; Enrichment.timeAsGiven).
   */
  context: { ip?: string; ipPolicy: IpPolicy; sentAt?: string; type?: EventType; keepClientIp?: boolean; historical?: boolean };
  /** reason plan_violation: the plan version that blocked it and how the event broke it */
  plan?: { version: number; violations: Violation[] };
  /**
   * Numbers in `event` are not as sent: one beyond a double is kept as its text, an id beyond 2^53
   * as the neighbouring integer the parser read. Replayed, the event would be stored changed, so it
   * is not: the client has to send it again.
   */
  inexact?: true;
}

/** A failed event and its JSON, serialized once (both sinks write the JSON). */
export interface FailedRecord {
  entry: FailedEvent;
  json: string;
}

/** Levels of an event kept when it is nested too deeply to serialize (the schema allows 256). */
const KEEP_DEPTH = 300;

/**
 * The most a failed entry takes as JSON. Every sink must be able to keep it: Kafka takes one record
 * in a produce request of at most MAX_PRODUCE_BYTES, with its key and headers (4 KB left for them).
 * What an entry holds can outgrow the body it came in once serialized again (`1e20` is written back
 * as 21 digits; text as JSON escapes), so the bound is on the entry itself.
 */
export const MAX_FAILED_ENTRY_BYTES = MAX_PRODUCE_BYTES - 4096;

export function failedRecord(entry: FailedEvent): FailedRecord {
  let json: string;
  try {
    json = JSON.stringify(entry);
  } catch (error) {
    // JSON.parse takes nesting that JSON.stringify cannot give back (it recurses): keep the top levels.
    if (!(error instanceof RangeError)) throw error;
    entry = { ...entry, event: cutDeep(entry.event, KEEP_DEPTH), errors: [...entry.errors, `what was nested deeper than ${KEEP_DEPTH} levels is not kept`] };
    json = JSON.stringify(entry);
  }
  if (json.length * 3 <= MAX_FAILED_ENTRY_BYTES || Buffer.byteLength(json) <= MAX_FAILED_ENTRY_BYTES) return { entry, json };
  return cutToBound(entry);
}

/**
 * An entry over MAX_FAILED_ENTRY_BYTES keeps the first bytes of what it held (its event as JSON, or
 * its raw body), as base64, marked truncated: seen, never replayed (it is not whole).
 */
function cutToBound(entry: FailedEvent): FailedRecord {
  const held = entry.event !== undefined ? Buffer.from(JSON.stringify(entry.event)) : entry.raw ? rawBytes(entry.raw) : Buffer.alloc(0);
  const rest: FailedEvent = { ...entry, raw: { encoding: 'base64', data: '', bytes: entry.raw?.bytes ?? held.length, truncated: true } };
  delete rest.event;
  // What describes the entry can be the client's own text (a key path in an error, a messageId):
  // bounded too, so the rest takes at most ~150 KB and the held bytes always have room.
  const errors = rest.errors.slice(0, 100).map((error) => shorten(error, 1024));
  rest.errors = rest.errors.length > 100 ? [...errors, `and ${rest.errors.length - 100} more`] : errors;
  if (rest.messageId !== undefined) rest.messageId = shorten(rest.messageId, 512);
  if (rest.plan) rest.plan = { version: rest.plan.version, violations: rest.plan.violations.slice(0, 20).map((v) => ({ ...v, path: shorten(v.path, 1024), message: shorten(v.message, 1024) })) };
  // What the rest takes, and room for JSON's own framing; base64 is 4 bytes for 3.
  const room = MAX_FAILED_ENTRY_BYTES - Buffer.byteLength(JSON.stringify(rest)) - 64;
  rest.raw!.data = held.subarray(0, Math.max(0, Math.floor((room * 3) / 4))).toString('base64');
  return { entry: rest, json: JSON.stringify(rest) };
}

function cutDeep(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth === 0) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => cutDeep(item, depth - 1));
  // No prototype: a "__proto__" key stays a plain key.
  const copy = Object.create(null) as Record<string, unknown>;
  for (const [key, item] of Object.entries(value)) copy[key] = cutDeep(item, depth - 1);
  return copy;
}

/** What is the same for every failed event of one request. */
export interface FailureContext {
  sourceId: string;
  receivedAtMs: number;
  route: string;
  /** the client address as the source's IP policy lets it be kept */
  ip: string | undefined;
  sentAt: string | undefined;
  ipPolicy: IpPolicy;
  /** the single-event route's type; undefined for batches */
  type: EventType | undefined;
  keepClientIp: boolean;
  /** the client's times taken as given (takesTimeAsGiven) */
  historical: boolean;
}

/** `ip` is the peer's address as the request came in: it is kept after the source's IP policy. */
export function failureContext(o: FailureContext): FailureContext {
  return { ...o, ip: applyIpPolicy(o.ip, o.ipPolicy) };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A copy without a top-level `writeKey`: failed events keep what the client sent, but never its key. */
function withoutWriteKey(value: unknown): unknown {
  if (!isObject(value) || !Object.hasOwn(value, 'writeKey')) return value;
  const copy = { ...value };
  delete copy.writeKey;
  return copy;
}

/**
 * A body without its write keys: the top-level one, and one in each event of the body (an SDK may
 * put the key in every item of a batch; a body refused whole keeps those items).
 */
function bodyWithoutWriteKeys(json: unknown): unknown {
  const body = withoutWriteKey(json);
  if (!isObject(body)) return body;
  let copy: Record<string, unknown> | undefined;
  for (const [field, value] of Object.entries(body)) {
    const cleaned = Array.isArray(value) ? withoutWriteKeys(value) : withoutWriteKey(value);
    if (cleaned !== value) (copy ??= { ...body })[field] = cleaned;
  }
  return copy ?? body;
}

/** The items without their write keys; the same array when none had one. */
function withoutWriteKeys(items: unknown[]): unknown[] {
  return items.some((item) => isObject(item) && Object.hasOwn(item, 'writeKey')) ? items.map(withoutWriteKey) : items;
}

function base(context: FailureContext, kind: FailedEvent['kind'], reason: FailureReason, errors: string[]): FailedEvent {
  return {
    id: newMessageId(),
    sourceId: context.sourceId,
    receivedAt: new Date(context.receivedAtMs).toISOString(),
    reason,
    errors,
    route: context.route,
    kind,
    context: {
      ...(context.ip === undefined ? {} : { ip: context.ip }),
      ipPolicy: context.ipPolicy,
      ...(context.sentAt === undefined ? {} : { sentAt: context.sentAt }),
      ...(context.type === undefined ? {} : { type: context.type }),
      ...(context.keepClientIp ? { keepClientIp: true } : {}),
      ...(context.historical ? { historical: true } : {}),
    },
  };
}

/** One event that failed; `index` is undefined for a single-event route. `detail`: the plan's verdict, or that its numbers are inexact. */
export function failedEventOf(context: FailureContext, item: unknown, index: number | undefined, reason: FailureReason, errors: string[], detail: { plan?: FailedEvent['plan']; inexact?: boolean } = {}): FailedRecord {
  const given = isObject(item) ? item.messageId : undefined;
  const messageId = typeof given === 'string' && given !== '' ? given : newMessageId(context.receivedAtMs);
  const { plan, inexact } = detail;
  return failedRecord({ ...base(context, 'event', reason, errors), ...(index === undefined ? {} : { index }), messageId, event: withoutWriteKey(item), ...(plan ? { plan } : {}), ...(inexact ? { inexact: true } : {}) });
}

/**
 * A whole body that failed: its parsed JSON when it was JSON, its bytes otherwise (an occurrence of
 * the source's write key in them is masked). `bytes` may be absent when the body was not read.
 */
export function failedBodyOf(context: FailureContext, body: { json?: unknown; bytes?: Buffer; declaredBytes?: number; truncated?: boolean; writeKey?: string }, reason: FailureReason, errors: string[]): FailedRecord {
  const entry = base(context, 'body', reason, errors);
  if (body.json !== undefined) {
    entry.event = bodyWithoutWriteKeys(body.json);
    if (isObject(body.json) && holdsUnrepresentable(body.json)) entry.inexact = true;
  }
  else if (body.bytes) entry.raw = rawOf(body.bytes, body.truncated ?? false, body.writeKey);
  return failedRecord(entry);
}

function rawOf(received: Buffer, truncated: boolean, writeKey: string | undefined): NonNullable<FailedEvent['raw']> {
  // Write keys are ASCII: as latin1 each byte is one character, so the key is found byte for byte.
  const bytes = writeKey ? Buffer.from(received.toString('latin1').replaceAll(writeKey, '[write key]'), 'latin1') : received;
  const text = bytes.toString('utf8');
  // Text full of characters JSON must escape (control characters) would grow up to six times
  // as JSON: base64 keeps every entry under a Kafka record's 1 MB, whatever the body held.
  if (Buffer.byteLength(text) === bytes.length && !text.includes('\uFFFD') && Buffer.byteLength(JSON.stringify(text)) <= (bytes.length * 4) / 3 + 2) {
    return { encoding: 'utf8', data: text, bytes: received.length, truncated };
  }
  return { encoding: 'base64', data: bytes.toString('base64'), bytes: received.length, truncated };
}

/** The raw body of a failed body entry, as bytes. */
export function rawBytes(raw: NonNullable<FailedEvent['raw']>): Buffer {
  return Buffer.from(raw.data, raw.encoding);
}

/** A stable messageId for the i-th event of a failed body, so replaying it twice cannot store it twice. */
export function derivedMessageId(failedId: string, index: number): string {
  const hex = createHash('sha256').update(`${failedId}:${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
