// The public API: builds Segment-spec events with identity and context, runs plugins, queues.
import type { AnalyticsOptions, BrowserEvent, EventMap, Plugin, Properties, PropertiesArgument } from './types.ts';
import { Queue } from './queue.ts';
import { read, write } from './storage.ts';
import { atLeast, boolean, checkSettings, oneOf, refuse, rule, text } from '@inlet/schema/settings';
import { newMessageId, uuid } from '@inlet/schema/uuid';

declare const __VERSION__: string;
export const VERSION: string = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';

const ANONYMOUS_ID = 'ajs_anonymous_id';
const USER_ID = 'ajs_user_id';
const SESSION_ID = 'ajs_session_id';

/** An id or event name as Segment takes them: a non-empty string, or a number (made a string); anything else is undefined. */
const usable = (v: unknown): string | undefined => (typeof v == 'number' || (typeof v == 'string' && v) ? '' + v : undefined);

const MAX_DELAY = 2 ** 31 - 1;

// The settings kit every Inlet package checks its options with (InvalidSettingError, INLET_INVALID_SETTING).
const OPTIONS = {
  writeKey: text({ secret: true }),
  // An absolute http(s) URL or a path of the page's origin ('/_i'): a host without a scheme
  // ('inlet.example.com', '127.0.0.1:8080') would be taken as a path and the events lost.
  endpoint: text({ pattern: /^(https?:\/\/|\/)/i, expects: 'an http(s) URL or a /path' }).optional(),
  identity: oneOf(['browser', 'server'] as const).default('browser'),
  batchSize: atLeast(1).default(30),
  // Delays: a browser fires a timer of 2^31 ms or more at once (a retry waits at most retryMaxMs).
  flushIntervalMs: atLeast(0, MAX_DELAY).default(5000),
  retryAttempts: atLeast(0).default(10),
  retryBaseMs: atLeast(1).default(1000),
  retryMaxMs: atLeast(1, MAX_DELAY).default(60_000),
  maxQueueEvents: atLeast(1).default(1000),
  maxQueueChars: atLeast(1).default(2_000_000),
  persistDelayMs: atLeast(0, MAX_DELAY).default(500),
  debug: boolean().default(false),
  plugins: rule((v) => (Array.isArray(v) && v.every((p) => typeof p?.process == 'function') ? (v as Plugin[]) : refuse('must be objects with a process(event) function'))).default([]),
};

/** `Events`: the planned track events (what `inlet plans typegen` writes); by default any name and properties. */
export class Analytics<Events extends EventMap = EventMap> {
  private readonly _queue: Queue;
  private readonly _plugins: Plugin[];
  /** the debug log: decisions and counts, never payloads */
  private readonly _log: (message: string, count?: number) => void;
  private readonly _timezone: string | undefined;
  /** identity: 'server' — the anonymous id is the site's first-party cookie, added by the collect proxy */
  private readonly _server: boolean;
  private _anonymousId: string | undefined;
  private _userId: string | undefined;
  private readonly _sessionId: string;
  /** fixed for the page's life; read once, as each read builds a new string */
  private readonly _userAgent = navigator.userAgent;
  /** the page's address when last read, as url, path, search and hash */
  private _address = { url: '', path: '', search: '', hash: '' };
  /** time of a call replayed from the loader snippet's queue */
  _at = 0;

  constructor(options: AnalyticsOptions) {
    const o = checkSettings(OPTIONS, options as unknown as Record<string, unknown>, { label: 'Inlet' });
    this._plugins = o.plugins;
    this._server = o.identity == 'server';
    const debug = o.debug;
    this._log = (message, count) => debug && console.log('[inlet] ' + message + (count === undefined ? '' : ' (' + count + ')'));
    // The checked options as they are (writeKey, batchSize, the retry and queue bounds...): naming
    // each one again here cost bytes of the 4 KB budget; the queue ignores the ones it does not read.
    this._queue = new Queue({ ...o, url: (o.endpoint || location.origin).replace(/\/+$/, '') + '/v1/batch', log: this._log });
    try {
      this._timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch {
      // no Intl: leave it out
    }
    this._load();
    this._sessionId = read('sessionStorage', SESSION_ID) || uuid();
    write('sessionStorage', SESSION_ID, this._sessionId);
  }

  /**
   * Identity lives in storage so that it survives reloads and is shared by tabs. With
   * identity: 'server' the anonymous id is not kept here at all: events leave without one and the
   * site's own server adds it from an httpOnly cookie that storage limits (ITP's 7 days) do not cap.
   */
  private _load(): void {
    if (!this._server) {
      this._anonymousId = read('localStorage', ANONYMOUS_ID) || uuid();
      write('localStorage', ANONYMOUS_ID, this._anonymousId);
    }
    this._userId = read('localStorage', USER_ID);
  }

  /** undefined with identity: 'server' (the id is in an httpOnly cookie the page cannot read) */
  get anonymousId(): string | undefined {
    return this._anonymousId;
  }

  get userId(): string | undefined {
    return this._userId;
  }

  /** Returns the event's messageId, or undefined when it was dropped (by a plugin, or a call without a name, or not serializable). */
  track<E extends keyof Events & string>(event: E, ...properties: PropertiesArgument<Events[E]>): string | undefined;
  track(event: string, properties?: Properties): string | undefined {
    return this._add({ type: 'track', event: usable(event), properties: properties || {} }, 'event');
  }

  /** identify(userId, traits?), or identify(traits) as Segment's analytics.js: the user stays who they were. */
  identify(userId?: string | number | null, traits?: Properties): string | undefined;
  identify(traits: Properties): string | undefined;
  identify(userId?: string | number | Properties | null, traits?: Properties): string | undefined {
    // An object (or null) first is not an id: its String() would be kept as the user id for good.
    if (typeof userId == 'object') traits = userId || traits;
    const id = usable(userId);
    if (id) write('localStorage', USER_ID, (this._userId = id));
    return this._add({ type: 'identify', traits: traits || {} });
  }

  /** page(), page(properties), page(name) or page(name, properties). */
  page(name?: string | Properties, properties?: Properties): string | undefined {
    if (typeof name === 'object' && name) [name, properties] = [undefined, name];
    const { path, url, search } = this._where();
    return this._add({
      type: 'page',
      name,
      properties: { path, url, search, title: document.title, referrer: document.referrer, ...properties },
    });
  }

  group(groupId: string, traits?: Properties): string | undefined {
    return this._add({ type: 'group', groupId: usable(groupId), traits: traits || {} }, 'groupId');
  }

  /** Links `previousId` (default: the current user or anonymous id) to `userId`. */
  alias(userId: string, previousId?: string): string | undefined {
    return this._add({ type: 'alias', previousId: previousId || this._userId || this._anonymousId, userId: usable(userId) }, 'userId');
  }

  /** Forgets the user: clears the user id and starts a new anonymous id. */
  reset(): void {
    write('localStorage', USER_ID, undefined);
    write('localStorage', ANONYMOUS_ID, undefined);
    this._load();
  }

  /** Resolves once what was queued before the call is delivered, rejected, or set aside for the next page load. */
  flush(): Promise<void> {
    return this._queue.flush();
  }

  /** The page's address in parts, read again only when location.href has changed: each of location's getters costs ~1 µs in Chromium. */
  private _where(): Readonly<{ url: string; path: string; search: string; hash: string }> {
    const url = location.href;
    if (url != this._address.url) this._address = { url, path: location.pathname, search: location.search, hash: location.hash };
    return this._address;
  }

  /** `needs`: the field without which the call means nothing (a track without a name); such a call is dropped. */
  private _add(fields: Partial<BrowserEvent>, needs?: 'event' | 'groupId' | 'userId'): string | undefined {
    // Event calls never throw at the host page: a bad call or event is dropped, and said so in debug mode.
    try {
      if (needs && !fields[needs]) throw 0;
      // a call replayed from the loader snippet is dated by the call, in its id and its timestamp
      const at = this._at || Date.now();
      let event: BrowserEvent | null | undefined = {
        messageId: newMessageId(at),
        timestamp: new Date(at).toISOString(),
        anonymousId: this._anonymousId,
        userId: this._userId,
        context: {
          // a new object per event, so a plugin that edits one event's page does not edit the next's
          page: { ...this._where(), title: document.title, referrer: document.referrer },
          userAgent: this._userAgent,
          locale: navigator.language,
          timezone: this._timezone,
          sessionId: this._sessionId,
          library: { name: '@inlet/browser', version: VERSION },
        },
        ...fields,
      } as BrowserEvent;
      for (const plugin of this._plugins) {
        try {
          event = plugin.process(event);
        } catch {
          console.error('[inlet] plugin ' + plugin.name + ' threw; the event goes on unchanged');
        }
        if (!event) return undefined;
      }
      // Throws on a cycle or a BigInt in the properties. Only a JSON object may be queued: the queue
      // splices events into one body, so a plugin's string or array would make the whole batch
      // invalid JSON and the server reject all of it. (A function or symbol gives undefined: json[0] throws.)
      const json = JSON.stringify(event);
      if (json[0] != '{') throw 0;
      this._queue.push(json);
      return event.messageId;
    } catch {
      this._log('invalid event dropped');
    }
  }
}
