// The check every compatibility test makes: what a client sent is what Inlet stored, field by
// field, except for what Inlet itself sets (sourceId, receivedAt, context.ip, the corrected
// timestamp) and the write key it never stores.
import assert from 'node:assert/strict';
import type { NormalizedRecord } from '@inlet/schema';

export type Sent = Record<string, unknown> & { messageId: string; type?: string };

/** Fields Inlet adds to every record, beside the client's own. */
const ADDED = new Set(['sourceId', 'receivedAt', 'timestamp', 'originalTimestamp', 'sentAt', 'context', 'messageId', 'type']);

/**
 * `sent` is one event as it went over the wire; `batchSentAt` the batch's sentAt, if any; `type`
 * the route's type for single-event routes. Checks every field of `stored` against it.
 */
export function assertStoredAsSent(stored: NormalizedRecord, sent: Sent, options: { batchSentAt?: string; type?: string; sourceId: string; ip?: string }): void {
  const what = `${stored.type} ${sent.messageId}`;
  assert.equal(stored.messageId, sent.messageId, what);
  assert.equal(stored.type, sent.type ?? options.type, `${what}: type`);
  assert.equal(stored.sourceId, options.sourceId, `${what}: sourceId`);
  assert.ok(!('writeKey' in stored), `${what}: the write key is not stored`);

  // Times: the client's time becomes originalTimestamp (a caller's timestamp first); timestamp is
  // receivedAt − (sentAt − originalTimestamp), the device's clock error taken out.
  const clientTime = (sent.timestamp ?? sent.originalTimestamp) as string | undefined;
  const sentAt = (sent.sentAt as string | undefined) ?? options.batchSentAt;
  assert.equal(stored.originalTimestamp, clientTime, `${what}: originalTimestamp`);
  assert.equal(stored.sentAt, sentAt, `${what}: sentAt`);
  if (clientTime !== undefined) {
    const expected = sentAt === undefined ? Date.parse(clientTime) : Date.parse(stored.receivedAt) - (Date.parse(sentAt) - Date.parse(clientTime));
    assert.equal(stored.timestamp, new Date(expected).toISOString(), `${what}: timestamp corrected by sentAt`);
  }

  // context: all of it, with the connection's address as ip.
  const { ip, ...storedContext } = stored.context;
  const { ip: _claimed, ...sentContext } = (sent.context ?? {}) as Record<string, unknown>;
  assert.deepEqual(storedContext, sentContext, `${what}: context`);
  assert.equal(ip, options.ip ?? '127.0.0.1', `${what}: context.ip`);

  // Everything else the client sent, exactly (properties, traits, integrations, ids, names...).
  for (const [key, value] of Object.entries(sent)) {
    if (ADDED.has(key) || key === 'writeKey' || key === 'sentAt') continue;
    assert.deepEqual(stored[key], value, `${what}: ${key}`);
  }
  // ...and nothing else, beside what Inlet adds (and page views' event/category).
  for (const key of Object.keys(stored)) {
    if (ADDED.has(key) || key in sent) continue;
    if (stored.type === 'page' && (key === 'event' || key === 'category')) continue;
    assert.fail(`${what}: stored a field the client did not send: ${key}`);
  }
}
