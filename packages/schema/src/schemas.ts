// JSON Schemas of the Segment event spec, one per event type. Identity (userId or anonymousId)
// is checked in code because anyOf-style schemas give unreadable errors.

const timestamp = { type: 'string', format: 'timestamp' };
const object = { type: 'object' };
const id = { type: ['string', 'number', 'null'], maxLength: 512 };
const text = { type: 'string', maxLength: 1024 };

const common = {
  type: { type: 'string' },
  messageId: { type: 'string', minLength: 1, maxLength: 512 },
  userId: id,
  anonymousId: id,
  timestamp,
  originalTimestamp: timestamp,
  sentAt: timestamp,
  context: object,
  properties: object,
  traits: object,
  integrations: object,
};

function eventSchema(extra: Record<string, unknown>, required: string[] = []) {
  return { type: 'object', properties: { ...common, ...extra }, required };
}

export const EVENT_SCHEMAS = {
  track: eventSchema({ event: { type: 'string', minLength: 1, maxLength: 1024 } }, ['event']),
  identify: eventSchema({}),
  page: eventSchema({ name: text, category: text }),
  screen: eventSchema({ name: text, category: text }),
  group: eventSchema({ groupId: { type: ['string', 'number'], minLength: 1, maxLength: 512 } }, ['groupId']),
  alias: eventSchema({ previousId: { type: ['string', 'number'], minLength: 1, maxLength: 512 } }, ['previousId']),
} as const;
