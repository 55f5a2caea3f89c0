// How often a source's events broke its tracking plan lately, per event name: flagged ones (stored
// with `context.violations`) read from the stored events, bounded like `plans infer`; blocked ones
// from the failed events (reason plan_violation), one bounded page. For the console's Plans page
// and scripts; `truncated` says when a bound was reached, so the counts are a lower bound.
import type { InletEvent } from '@inlet/schema';
import type { FailedStore } from '../failed/failed-store.ts';
import type { EventSamples } from './event-samples.ts';

export interface ViolationCounts {
  since: string;
  /** per event name, most violations first */
  names: { name: string; flagged: number; blocked: number }[];
  /** a bound was reached before `since`: there may be more */
  truncated: boolean;
}

const MAX_EVENTS = 50_000;
const MAX_SCANNED = 500_000;
const MAX_FAILED = 1000;

/** The name an event is counted under: a track's event, else its type and (page, screen) its name. */
export function nameOf(event: Record<string, unknown>): string {
  if (event.type === 'track' && typeof event.event === 'string') return event.event;
  const type = typeof event.type === 'string' ? event.type : 'unknown';
  return typeof event.name === 'string' ? `${type} ${event.name}` : type;
}

export async function countViolations(o: { samples?: EventSamples; failed: FailedStore }, sourceId: string, sinceMs: number): Promise<ViolationCounts> {
  const counts = new Map<string, { flagged: number; blocked: number }>();
  const entry = (name: string) => {
    let c = counts.get(name);
    if (!c) counts.set(name, c = { flagged: 0, blocked: 0 });
    return c;
  };
  let truncated = false;
  if (o.samples) {
    const read = await o.samples(sourceId, sinceMs, (event: InletEvent) => {
      const context = (event as { context?: { violations?: unknown } }).context;
      if (Array.isArray(context?.violations)) entry(nameOf(event as unknown as Record<string, unknown>)).flagged++;
    }, { maxEvents: MAX_EVENTS, maxScanned: MAX_SCANNED });
    truncated ||= read.truncated;
  }
  const page = await o.failed.list({ sourceId, reason: 'plan_violation', sinceMs, status: 'all' }, MAX_FAILED);
  for (const failed of page.failed) {
    const event = failed.event !== null && typeof failed.event === 'object' ? failed.event as Record<string, unknown> : {};
    entry(nameOf({ type: failed.context.type, ...event })).blocked++;
  }
  truncated ||= page.next !== null;
  const names = [...counts].map(([name, c]) => ({ name, ...c })).sort((a, b) => b.flagged + b.blocked - (a.flagged + a.blocked) || a.name.localeCompare(b.name));
  return { since: new Date(sinceMs).toISOString(), names, truncated };
}
