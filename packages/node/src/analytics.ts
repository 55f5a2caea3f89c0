// The public face of the SDK. Every tracking method is synchronous, cheap and never throws:
// a bad call becomes a 'drop' event and a counter, because analytics must never take down the
// request that was being tracked.
import { EventEmitter } from 'node:events';
import type { InletEvent, JsonObject } from '@inlet/schema';
import { EventFactory, type EventOptions, type Id } from './event-factory.ts';
import { Publisher, type DropInfo, type Stats } from './publisher.ts';
import { resolveSettings, type ServerAnalyticsOptions, type Settings } from './settings.ts';
import { HttpTransport } from './transports/http.ts';
import { KafkaTransport } from './transports/kafka.ts';
import type { Transport } from './transports/transport.ts';

export interface ShutdownOptions {
  /** give up on what is still undelivered after this long (reported as 'shutdown-timeout'); default 10000 */
  timeoutMs?: number;
}

export type ServerAnalyticsEvents = {
  error: [Error];
  drop: [DropInfo];
};

/**
 * Event names and their properties: the type parameter of ServerAnalytics. The default takes any
 * name with any properties; `inlet plans typegen` writes one from a tracking plan (`TrackingPlan`),
 * and `new ServerAnalytics<TrackingPlan>(...)` then makes tsc check each track() call against it.
 */
export type EventMap = { [event: string]: JsonObject };

/** track()'s arguments after the event name: the properties are required when the event's type has required properties. */
export type TrackArguments<P> = Partial<P> extends P ? [properties?: P, options?: EventOptions] : [properties: P, options?: EventOptions];

/** The anonymousId of events a back end sends on its own behalf, not a user's. */
export const SYSTEM_ANONYMOUS_ID = 'system';

function createTransport(settings: Settings): Transport<unknown> {
  const t = settings.transport;
  return (t.kind === 'kafka' ? new KafkaTransport(t, settings.maxEventBytes) : new HttpTransport(t, settings.maxEventBytes)) as Transport<unknown>;
}

/** `Events`: the planned track events (what `inlet plans typegen` writes); by default any name and properties. */
export class ServerAnalytics<Events extends EventMap = EventMap> extends EventEmitter<ServerAnalyticsEvents> {
  readonly settings: Readonly<Settings>;
  readonly #factory: EventFactory;
  readonly #transport: Transport<unknown>;
  readonly #publisher: Publisher<unknown>;
  #shutdown: Promise<void> | undefined;

  /** Throws an InvalidSettingError (code INLET_INVALID_SETTING) for bad options: better at startup than silently later. */
  constructor(options: ServerAnalyticsOptions) {
    super();
    this.settings = resolveSettings(options);
    this.#factory = new EventFactory(this.settings.app);
    this.#transport = createTransport(this.settings);
    this.#publisher = new Publisher(this.#transport, this.settings, {
      onDrop: (info) => {
        if (this.listenerCount('drop') > 0) this.#safeEmit('drop', info);
      },
      onError: (error) => {
        // An 'error' with no listener would throw out of EventEmitter.emit; with none, stay silent.
        if (this.listenerCount('error') > 0) this.#safeEmit('error', error);
      },
    });
  }

  track<E extends keyof Events & string>(userId: Id | undefined, event: E, ...rest: TrackArguments<Events[E]>): void;
  track(userId: Id | undefined, event: string, properties?: JsonObject, options?: EventOptions): void {
    try {
      this.#enqueue(this.#factory.track(userId, event, properties, options));
    } catch (error) {
      this.#invalid(error);
    }
  }

  /** An event of the back end itself (a cron job, a webhook): anonymousId `system`, no user. */
  trackSystem<E extends keyof Events & string>(event: E, ...rest: TrackArguments<Events[E]>): void;
  trackSystem(event: string, properties?: JsonObject, options?: EventOptions): void {
    try {
      this.#enqueue(this.#factory.track(undefined, event, properties, { ...options, anonymousId: SYSTEM_ANONYMOUS_ID }));
    } catch (error) {
      this.#invalid(error);
    }
  }

  identify(userId: Id | undefined, traits?: JsonObject, options?: EventOptions): void {
    try {
      this.#enqueue(this.#factory.identify(userId, traits, options));
    } catch (error) {
      this.#invalid(error);
    }
  }

  page(userId: Id | undefined, name?: string, properties?: JsonObject, options?: EventOptions): void {
    try {
      this.#enqueue(this.#factory.page(userId, name, properties, options));
    } catch (error) {
      this.#invalid(error);
    }
  }

  group(userId: Id | undefined, groupId: Id, traits?: JsonObject, options?: EventOptions): void {
    try {
      this.#enqueue(this.#factory.group(userId, groupId, traits, options));
    } catch (error) {
      this.#invalid(error);
    }
  }

  alias(userId: Id, previousId: Id, options?: EventOptions): void {
    try {
      this.#enqueue(this.#factory.alias(userId, previousId, options));
    } catch (error) {
      this.#invalid(error);
    }
  }

  /** Resolves when everything tracked before the call is delivered or definitively dropped. */
  flush(): Promise<void> {
    return this.#publisher.flush();
  }

  /** Stops taking events, flushes, then closes connections. Idempotent; never rejects. */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#close(options.timeoutMs ?? 10_000);
    return this.#shutdown;
  }

  stats(): Stats {
    return this.#publisher.stats();
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#publisher.close();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.#publisher.flush().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), Math.max(0, timeoutMs));
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.#publisher.abandon();
    await this.#transport.close(timedOut);
  }

  #enqueue(event: InletEvent): void {
    if (this.#publisher.closed) {
      this.#publisher.drop({ reason: 'closed', count: 1, message: 'shutdown() was called' });
      return;
    }
    const prepared = this.#transport.prepare(event);
    if (prepared.ok) this.#publisher.enqueue(prepared.item, prepared.bytes);
    else this.#publisher.drop({ reason: prepared.reason, count: 1, message: prepared.message });
  }

  #invalid(error: unknown): void {
    this.#publisher.drop({ reason: 'invalid', count: 1, message: error instanceof Error ? error.message : String(error) });
  }

  /** A listener that throws must not turn into an exception in the host's track() call. */
  #safeEmit<K extends keyof ServerAnalyticsEvents>(name: K, ...args: ServerAnalyticsEvents[K]): void {
    try {
      (this.emit as (n: K, ...a: ServerAnalyticsEvents[K]) => boolean)(name, ...args);
    } catch {
      // swallowed on purpose: see above
    }
  }
}
