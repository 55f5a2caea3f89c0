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

// The settings kit every Inlet package checks its options with (InvalidSettingError, INLET_INVALID_SETTING).
const OPTIONS = {
  writeKey: text({ secret: true }),
  endpoint: text().optional(),
  identity: oneOf(['browser', 'server'] as const).default('browser'),
  batchSize: atLeast(1).default(30),
  flushIntervalMs: atLeast(0).default(5000),
  retryAttempts: atLeast(0).default(10),
  retryBaseMs: atLeast(1).default(1000),
  retryMaxMs: atLeast(1).default(60_000),
  maxQueueEvents: atLeast(1).default(1000),
  maxQueueChars: atLeast(1).default(2_000_000),
  persistDelayMs: atLeast(0).default(500),
  debug: boolean().default(false),
  plugins: rule((v) => (Array.isArray(v) && v.every((p) => typeof p?.process == 'function') ? (v as Plugin[]) : refuse('must be objects with a process(event) function'))).default([]),
};

/** `Events`: the planned track events (what `inlet plans typegen` writes); by default any name and properties. */
export class Analytics<Events extends EventMap = EventMap> {
  private readonly _queue: Queue;
  private readonly _plugins: Plugin[];
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
    this._queue = new Queue({
      writeKey: o.writeKey,
      url: (o.endpoint || location.origin).replace(/\/+$/, '') + '/v1/batch',
      batchSize: o.batchSize,
      flushIntervalMs: o.flushIntervalMs,
      retryAttempts: o.retryAttempts,
      retryBaseMs: o.retryBaseMs,
      retryMaxMs: o.retryMaxMs,
      maxQueueEvents: o.maxQueueEvents,
      maxQueueChars: o.maxQueueChars,
      persistDelayMs: o.persistDelayMs,
      log: (message, count) => debug && console.log('[inlet] ' + message + (count === undefined ? '' : ' (' + count + ')')),
    });
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

  /** Returns the event's messageId, or undefined when a plugin dropped it. */
  track<E extends keyof Events & string>(event: E, ...properties: PropertiesArgument<Events[E]>): string | undefined;
  track(event: string, properties?: Properties): string | undefined {
    return this._add({ type: 'track', event, properties: properties || {} });
  }

  identify(userId?: string | null, traits?: Properties): string | undefined {
    if (userId) write('localStorage', USER_ID, (this._userId = String(userId)));
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
    return this._add({ type: 'group', groupId: String(groupId), traits: traits || {} });
  }

  /** Links `previousId` (default: the current user or anonymous id) to `userId`. */
  alias(userId: string, previousId?: string): string | undefined {
    return this._add({ type: 'alias', previousId: previousId || this._userId || this._anonymousId, userId: String(userId) });
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

  private _add(fields: Partial<BrowserEvent>): string | undefined {
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
    this._queue.push(JSON.stringify(event));
    return event.messageId;
  }
}
