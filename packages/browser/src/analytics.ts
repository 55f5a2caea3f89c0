// The public API: builds Segment-spec events with identity and context, runs plugins, queues.
import type { AnalyticsOptions, BrowserEvent, EventMap, Plugin, Properties, PropertiesArgument } from './types.ts';
import { Queue } from './queue.ts';
import { read, write } from './storage.ts';
import { uuid, uuid7 } from './uuid.ts';

declare const __VERSION__: string;
export const VERSION: string = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';

const ANONYMOUS_ID = 'ajs_anonymous_id';
const USER_ID = 'ajs_user_id';
const SESSION_ID = 'ajs_session_id';

function option(value: unknown, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= min)) throw new TypeError(`Inlet: ${name} must be a number >= ${min}`);
  return value;
}

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
  /** time of a call replayed from the loader snippet's queue */
  _at = 0;

  constructor(options: AnalyticsOptions) {
    const o = options || ({} as AnalyticsOptions);
    if (typeof o.writeKey !== 'string' || !o.writeKey) throw new TypeError('Inlet: writeKey is required');
    this._plugins = o.plugins || [];
    if (!Array.isArray(this._plugins) || this._plugins.some((p) => typeof p?.process !== 'function')) {
      throw new TypeError('Inlet: plugins must be objects with a process(event) function');
    }
    if (o.identity && o.identity != 'browser' && o.identity != 'server') throw new TypeError("Inlet: identity must be 'browser' or 'server'");
    this._server = o.identity == 'server';
    const debug = !!o.debug;
    this._queue = new Queue({
      writeKey: o.writeKey,
      url: (o.endpoint || location.origin).replace(/\/+$/, '') + '/v1/batch',
      batchSize: option(o.batchSize, 30, 'batchSize', 1),
      flushIntervalMs: option(o.flushIntervalMs, 5000, 'flushIntervalMs', 0),
      retryAttempts: option(o.retryAttempts, 10, 'retryAttempts', 0),
      retryBaseMs: option(o.retryBaseMs, 1000, 'retryBaseMs', 1),
      retryMaxMs: option(o.retryMaxMs, 60_000, 'retryMaxMs', 1),
      maxQueueEvents: option(o.maxQueueEvents, 1000, 'maxQueueEvents', 1),
      maxQueueChars: option(o.maxQueueChars, 2_000_000, 'maxQueueChars', 1),
      persistDelayMs: option(o.persistDelayMs, 500, 'persistDelayMs', 0),
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
    return this._add({
      type: 'page',
      name,
      properties: { path: location.pathname, url: location.href, search: location.search, title: document.title, referrer: document.referrer, ...properties },
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

  private _add(fields: Partial<BrowserEvent>): string | undefined {
    let event: BrowserEvent | null | undefined = {
      messageId: uuid7(),
      timestamp: (this._at ? new Date(this._at) : new Date()).toISOString(),
      anonymousId: this._anonymousId,
      userId: this._userId,
      context: {
        page: { url: location.href, path: location.pathname, search: location.search, hash: location.hash, title: document.title, referrer: document.referrer },
        userAgent: navigator.userAgent,
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
