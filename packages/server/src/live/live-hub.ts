// The console's live view: events as they are stored (and failed events as they are kept), fanned
// out to the viewers watching. Where they come from is an origin (the embedded store, or Kafka),
// started when the first viewer arrives and stopped when the last leaves, so a server nobody
// watches does no work for this. Viewers are bounded (a burst of connections gets 503); each
// viewer bounds its own queue (./sse-viewer.ts), so a slow one never holds up the others or
// ingestion.

/**
 * What an origin reads for its viewers: at most LIVE_EVENTS_PER_WINDOW events per LIVE_WINDOW_MS
 * (1,000 a second), the newest; older ones are skipped unread and counted, so the page says how
 * many it missed. Below that rate every event shows. Above it a person cannot read them anyway,
 * and each one read, decoded and streamed costs ingestion CPU on the same cores: at 500 per 100 ms
 * one viewer cost 6-8% of W1's throughput (bench/results/2026-12-03-viewer-quiet.md).
 */
export const LIVE_WINDOW_MS = 100;
export const LIVE_EVENTS_PER_WINDOW = 100;

/** One stored or failed event, with what viewers filter on, and its JSON as stored. */
export interface LiveEvent {
  kind: 'stored' | 'failed';
  sourceId: string;
  type?: string;
  /** `event` of a track, `name` of a page or screen */
  name?: string;
  userId?: string;
  anonymousId?: string;
  json: string;
}

export interface LiveOrigin {
  /** Starts calling `emit` with events committed from now on; `lost` with a count it had to skip. */
  start(emit: (events: LiveEvent[]) => void, lost: (count: number) => void): Promise<void>;
  stop(): Promise<void>;
}

export interface LiveFilter {
  sourceId?: string;
  type?: string;
  name?: string;
  /** matches userId or anonymousId */
  user?: string;
}

export interface Viewer {
  filter: LiveFilter;
  send(event: LiveEvent): void;
  /** events the origin skipped (none of them reached any viewer) */
  lost(count: number): void;
  close(): void;
}

export const matches = (f: LiveFilter, e: LiveEvent): boolean =>
  (f.sourceId === undefined || e.sourceId === f.sourceId)
  && (f.type === undefined || e.type === f.type)
  && (f.name === undefined || e.name === f.name)
  && (f.user === undefined || e.userId === f.user || e.anonymousId === f.user);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * What a viewer filters on and sees as the event's name: a page's or screen's own name (stored
 * pages also carry event "page_viewed", which would match every page), a track's event.
 */
const nameOf = (e: Record<string, unknown>): string | undefined =>
  (e.type === 'page' || e.type === 'screen' ? str(e.name) ?? str(e.event) : str(e.event) ?? str(e.name));

/** A stored record's JSON as a live event (parsed once, whatever the number of viewers). */
export function storedEvent(json: string): LiveEvent {
  const r = JSON.parse(json) as Record<string, unknown>;
  return { kind: 'stored', sourceId: String(r.sourceId), type: str(r.type), name: nameOf(r), userId: str(r.userId), anonymousId: str(r.anonymousId), json };
}

/** A failed entry's JSON as a live event: what it says of the event as received. */
export function failedEvent(json: string): LiveEvent {
  const entry = JSON.parse(json) as { sourceId: string; event?: unknown; context?: { type?: string } };
  const e = (entry.event !== null && typeof entry.event === 'object' ? entry.event : {}) as Record<string, unknown>;
  return { kind: 'failed', sourceId: String(entry.sourceId), type: str(e.type) ?? str(entry.context?.type), name: nameOf(e), userId: str(e.userId), anonymousId: str(e.anonymousId), json };
}

export const DEFAULT_MAX_VIEWERS = 100;

export class LiveHub {
  private readonly origin: LiveOrigin;
  readonly maxViewers: number;
  private readonly viewers = new Set<Viewer>();
  /** start and stop in order, whatever the order viewers come and go in */
  private transition: Promise<void> = Promise.resolve();
  private running = false;

  constructor(origin: LiveOrigin, maxViewers = DEFAULT_MAX_VIEWERS) {
    this.origin = origin;
    this.maxViewers = maxViewers;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Adds a viewer; false when there are as many as allowed already. Resolves once the origin follows. */
  async join(viewer: Viewer): Promise<boolean> {
    if (this.viewers.size >= this.maxViewers) return false;
    this.viewers.add(viewer);
    await this.settle();
    return true;
  }

  leave(viewer: Viewer): void {
    if (this.viewers.delete(viewer)) void this.settle();
  }

  /** Ends every viewer's stream (the server is closing) and stops the origin. */
  async close(): Promise<void> {
    for (const viewer of [...this.viewers]) viewer.close();
    this.viewers.clear();
    await this.settle();
  }

  private settle(): Promise<void> {
    this.transition = this.transition.then(async () => {
      const wanted = this.viewers.size > 0;
      if (wanted === this.running) return;
      this.running = wanted;
      if (wanted) await this.origin.start((events) => this.emit(events), (count) => { for (const v of this.viewers) v.lost(count); });
      else await this.origin.stop();
    }).catch(() => { this.running = false; });
    return this.transition;
  }

  private emit(events: LiveEvent[]): void {
    for (const viewer of this.viewers) {
      for (const event of events) if (matches(viewer.filter, event)) viewer.send(event);
    }
  }
}
