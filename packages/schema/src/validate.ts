import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { EVENT_TYPES, type EventType, type InletEvent } from './event.ts';
import { EVENT_SCHEMAS } from './schemas.ts';
import { isTimestamp } from './clock.ts';

export type Validation = { ok: true; event: InletEvent } | { ok: false; errors: string[] };

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
ajv.addFormat('timestamp', { type: 'string', validate: isTimestamp });

const validators = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, ajv.compile(EVENT_SCHEMAS[type])]),
) as Record<EventType, ValidateFunction>;

const isEventType = (t: unknown): t is EventType => typeof t === 'string' && Object.hasOwn(validators, t);

function describe(error: ErrorObject): string {
  const field = error.instancePath.slice(1).replaceAll('/', '.');
  if (error.keyword === 'required') return `${error.params.missingProperty} is required`;
  if (error.keyword === 'format') return `${field} is not a valid date-time`;
  if (error.keyword === 'type') return `${field} must be ${listed(String(error.params.type).split(','))}`;
  return `${field || 'event'} ${error.message ?? 'is invalid'}`;
}

/** "a", "a or b", "a, b or c" */
const listed = (words: string[]) => (words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words[0]);

/**
 * A UTF-16 surrogate without its pair: no character, and UTF-8 has no bytes for it. Written to the
 * store's key column or a Kafka header it becomes U+FFFD, so two different messageIds would be one
 * event there, and the second acknowledged one dropped as its repeat.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Optional fields that SDKs send as null for "not given" (rudder-sdk-node passes a caller's null
 * properties or traits through; analytics-node a null timestamp): absent, not wrong. Dropped only
 * once an event failed its schema, so the events that pass pay nothing.
 */
const NULL_MEANS_ABSENT = ['messageId', 'timestamp', 'originalTimestamp', 'sentAt', 'context', 'properties', 'traits', 'integrations', 'name', 'category'];

/** Removes the null optional fields of `event`; true when there was one. */
function dropNulls(event: Record<string, unknown>): boolean {
  let dropped = false;
  for (const field of NULL_MEANS_ABSENT) {
    if (event[field] === null) {
      delete event[field];
      dropped = true;
    }
  }
  return dropped;
}

const hasId = (v: unknown) => (typeof v === 'string' && v.length > 0) || typeof v === 'number';

/**
 * Checks one event. `type` comes from the route for single-event endpoints; batch items carry
 * their own. The event is not copied: normalization builds the stored record.
 */
export function validateEvent(input: unknown, type?: EventType): Validation {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: ['event must be a JSON object'] };
  }
  const event = input as Record<string, unknown>;
  const eventType = type ?? event.type;
  if (!isEventType(eventType)) {
    return { ok: false, errors: [`type must be one of ${EVENT_TYPES.join(', ')}`] };
  }
  if (type !== undefined && event.type !== undefined && event.type !== type) {
    return { ok: false, errors: [`type "${String(event.type)}" does not match the endpoint /v1/${type}`] };
  }
  const validator = validators[eventType];
  if (!validator(event) && !(dropNulls(event) && validator(event))) return { ok: false, errors: (validator.errors ?? []).map(describe) };
  if (!hasId(event.userId) && !hasId(event.anonymousId)) {
    return { ok: false, errors: ['userId or anonymousId is required'] };
  }
  if (typeof event.messageId === 'string' && LONE_SURROGATE.test(event.messageId)) {
    return { ok: false, errors: ['messageId holds an unpaired UTF-16 surrogate (an escape such as \\ud800 without its pair), which is not a character'] };
  }
  const forbidden = findForbiddenKey(event);
  if (forbidden) return { ok: false, errors: [forbidden] };
  if (event.type !== eventType) event.type = eventType;
  return { ok: true, event: event as InletEvent };
}

const MAX_SCAN_DEPTH = 256;
const hasOwnProperty = Object.prototype.hasOwnProperty;

/**
 * `__proto__` keys, and `constructor.prototype`, are how prototype pollution reaches consumers
 * that merge objects. JSON.parse keeps them as plain data, so they are only found by walking;
 * the walk is iterative so a deeply nested event cannot exhaust the stack.
 */
function findForbiddenKey(root: Record<string, unknown>): string | undefined {
  // Two parallel stacks rather than one of [value, depth] pairs: no allocation per object visited.
  const values: object[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop()!;
    const depth = depths.pop()!;
    if (depth > MAX_SCAN_DEPTH) return `event is nested deeper than ${MAX_SCAN_DEPTH} levels`;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === 'object') { values.push(item); depths.push(depth + 1); }
      continue;
    }
    for (const key in value) {
      // Own keys only. hasOwnProperty.call, not Object.hasOwn: inside a for...in over the same
      // object V8 answers it without a lookup, and Object.hasOwn took 40% of the walk (bench/LOG.md,
      // "2026-12-07, 06:15 UTC session").
      if (!hasOwnProperty.call(value, key)) continue;
      if (key === '__proto__') return 'the key "__proto__" is not allowed';
      const child = (value as Record<string, unknown>)[key];
      if (child === null || typeof child !== 'object') continue;
      if (key === 'constructor' && Object.hasOwn(child, 'prototype')) return 'the key "constructor.prototype" is not allowed';
      values.push(child);
      depths.push(depth + 1);
    }
  }
  return undefined;
}
