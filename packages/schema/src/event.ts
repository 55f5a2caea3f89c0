// The Segment-spec event model as Inlet receives it and as it writes it to a sink.

export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type JsonObject = { [key: string]: unknown };

/** An event as a client sends it (after validation). */
export interface InletEvent {
  type: EventType;
  messageId?: string;
  userId?: string | null;
  anonymousId?: string | null;
  event?: string;
  name?: string;
  category?: string;
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
  context?: JsonObject;
  properties?: JsonObject;
  traits?: JsonObject;
  groupId?: string;
  previousId?: string;
  integrations?: JsonObject;
  [key: string]: unknown;
}

export type IpPolicy = 'full' | 'anonymize' | 'drop';

/** The value Inlet writes to a sink: the event, enriched. */
export interface NormalizedRecord extends InletEvent {
  messageId: string;
  sourceId: string;
  receivedAt: string;
  timestamp: string;
  context: JsonObject;
}
