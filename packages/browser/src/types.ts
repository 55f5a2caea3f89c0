// Public types of @inlet/browser. Kept free of runtime code so the declarations stay small.

export type Properties = { [key: string]: unknown };

/**
 * Event names and their properties: the type parameter of Analytics. The default takes any name
 * with any properties; `inlet plans typegen` writes one from a tracking plan (`TrackingPlan`), and
 * `new Analytics<TrackingPlan>(...)` then makes tsc check each track() call against it.
 */
export type EventMap = { [event: string]: Properties };

/** track()'s properties: required when the event's type has required properties. */
export type PropertiesArgument<P> = Partial<P> extends P ? [properties?: P] : [properties: P];

export type EventType = 'track' | 'identify' | 'page' | 'group' | 'alias';

/** An event as the SDK builds it, before plugins run. `sentAt` is added when it is sent. */
export interface BrowserEvent {
  type: EventType;
  messageId: string;
  /** absent with identity: 'server' until the site's server adds it */
  anonymousId?: string;
  userId?: string;
  timestamp: string;
  context: Properties;
  event?: string;
  name?: string;
  properties?: Properties;
  traits?: Properties;
  groupId?: string;
  previousId?: string;
  [key: string]: unknown;
}

/** Runs on every event, in order, when the event is created. Return null to drop it. */
export interface Plugin {
  name: string;
  process(event: BrowserEvent): BrowserEvent | null | undefined;
}

export interface AnalyticsOptions {
  /** The source's write key (public in browsers). */
  writeKey: string;
  /** Origin of the Inlet server with its scheme, e.g. "https://inlet.example.com", or a path of the page's own origin such as "/_i" (the collect proxy of @inlet/node). Default: the page's origin. Anything else (a host without a scheme) throws a TypeError. */
  endpoint?: string;
  /**
   * Where the anonymous id lives. 'browser' (default): localStorage, as Segment's analytics.js.
   * 'server': nowhere in the page; events are sent without one and the collect proxy of the site's
   * own server (@inlet/node's inletCollect) adds it from its first-party httpOnly cookie.
   */
  identity?: 'browser' | 'server';
  /** Events per request; a full batch is sent at once. Default 30. */
  batchSize?: number;
  /** Longest time an event waits before being sent. Default 5000. */
  flushIntervalMs?: number;
  /** Failed attempts in a row before a batch is parked until the page is shown again or the next page load. Default 10. */
  retryAttempts?: number;
  /** First retry delay; doubles per attempt, with jitter. Default 1000. */
  retryBaseMs?: number;
  /** Longest retry delay (a server's Retry-After is honoured even when longer). Default 60000. */
  retryMaxMs?: number;
  /** Bound of the queue kept in memory and localStorage, in events. Default 1000; the oldest go first. */
  maxQueueEvents?: number;
  /** Bound of the queue in characters of JSON. Default 2,000,000. */
  maxQueueChars?: number;
  /** How long after a change the queue is written to localStorage. Default 500. */
  persistDelayMs?: number;
  /** Logs counts and decisions (never payloads) to the console. */
  debug?: boolean;
  plugins?: Plugin[];
}
