// Builds Segment-spec events. Every event gets its messageId and timestamp here, when the host
// calls track(), so a retry resends the same id (the processor dedups on it) and the time is
// when it happened, not when it was sent.
import { newMessageId, type InletEvent, type JsonObject } from '@inlet/schema';
import type { AppInfo } from './settings.ts';
import { LIBRARY } from './version.ts';

export type Id = string | number;

/** Per-call overrides, the same names as Segment's. */
export interface EventOptions {
  anonymousId?: Id;
  messageId?: string;
  timestamp?: Date | string;
  /** merged over the SDK's context (library and app stay unless overridden) */
  context?: JsonObject;
  integrations?: JsonObject;
}

/** Thrown for bad arguments; the caller turns it into a 'drop', never into an exception. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

const isId = (v: unknown): v is Id => (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v));
const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);

export class EventFactory {
  /** shared by every event without its own context: it is serialized, never mutated */
  readonly #context: JsonObject;

  constructor(app: AppInfo | undefined) {
    const context: JsonObject = { library: { ...LIBRARY } };
    if (app !== undefined) context.app = { ...app };
    this.#context = Object.freeze(context);
  }

  track(userId: Id | undefined, event: unknown, properties: unknown, options: EventOptions | undefined): InletEvent {
    if (typeof event !== 'string' || event === '') throw new InvalidEventError('event name must be a non-empty string');
    const e = this.#base('track', userId, options);
    e.event = event;
    e.properties = this.#object(properties, 'properties');
    return e;
  }

  identify(userId: Id | undefined, traits: unknown, options: EventOptions | undefined): InletEvent {
    const e = this.#base('identify', userId, options);
    e.traits = this.#object(traits, 'traits');
    return e;
  }

  page(userId: Id | undefined, name: unknown, properties: unknown, options: EventOptions | undefined): InletEvent {
    if (name !== undefined && typeof name !== 'string') throw new InvalidEventError('page name must be a string');
    const e = this.#base('page', userId, options);
    if (name !== undefined) e.name = name;
    e.properties = this.#object(properties, 'properties');
    return e;
  }

  group(userId: Id | undefined, groupId: unknown, traits: unknown, options: EventOptions | undefined): InletEvent {
    if (!isId(groupId)) throw new InvalidEventError('groupId must be a non-empty string or a number');
    const e = this.#base('group', userId, options);
    e.groupId = String(groupId);
    e.traits = this.#object(traits, 'traits');
    return e;
  }

  alias(userId: Id | undefined, previousId: unknown, options: EventOptions | undefined): InletEvent {
    if (!isId(previousId)) throw new InvalidEventError('previousId must be a non-empty string or a number');
    const e = this.#base('alias', userId, options);
    e.previousId = String(previousId);
    return e;
  }

  #object(value: unknown, what: string): JsonObject {
    if (value === undefined || value === null) return {};
    if (!isObject(value)) throw new InvalidEventError(`${what} must be an object`);
    return value;
  }

  #base(type: InletEvent['type'], userId: Id | undefined | null, options: EventOptions | undefined): InletEvent {
    const anonymousId = options?.anonymousId;
    const hasUser = isId(userId);
    if (!hasUser && userId !== undefined && userId !== null) throw new InvalidEventError('userId must be a non-empty string or a number');
    if (anonymousId !== undefined && !isId(anonymousId)) throw new InvalidEventError('anonymousId must be a non-empty string or a number');
    if (!hasUser && anonymousId === undefined) throw new InvalidEventError('userId or anonymousId is required');
    // A fixed key order keeps every event the same hidden class, which JSON.stringify likes.
    const e: InletEvent = {
      type,
      messageId: options?.messageId ?? newMessageId(),
      timestamp: timestampOf(options?.timestamp),
      context: this.#context,
    };
    if (hasUser) e.userId = String(userId);
    if (anonymousId !== undefined) e.anonymousId = String(anonymousId);
    if (options !== undefined) {
      if (options.context !== undefined) {
        if (!isObject(options.context)) throw new InvalidEventError('context must be an object');
        e.context = { ...this.#context, ...options.context };
      }
      if (options.integrations !== undefined) {
        if (!isObject(options.integrations)) throw new InvalidEventError('integrations must be an object');
        e.integrations = options.integrations;
      }
      if (options.messageId !== undefined && (typeof options.messageId !== 'string' || options.messageId === '')) {
        throw new InvalidEventError('messageId must be a non-empty string');
      }
    }
    return e;
  }
}

// toISOString is one of the costlier steps of track(); a busy host tracks many events per ms.
let lastMs = 0;
let lastIso = new Date(0).toISOString();
function now(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

function timestampOf(t: Date | string | undefined): string {
  if (t === undefined) return now();
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidEventError('timestamp must be a Date or an ISO 8601 string');
  return typeof t === 'string' ? t : new Date(ms).toISOString();
}
