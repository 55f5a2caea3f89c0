import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeEvent, validateEvent, type Enrichment, type InletEvent } from '@inlet/schema';

const NOW = Date.parse('2024-06-01T12:00:00.000Z');
const enrichment: Enrichment = { sourceId: 'src_test', receivedAtMs: NOW, ip: '203.0.113.9', ipPolicy: 'full' };

function valid(input: Record<string, unknown>, type?: InletEvent['type']): InletEvent {
  const v = validateEvent(input, type);
  assert.ok(v.ok, JSON.stringify(v));
  return v.event;
}

describe('normalizeEvent', () => {
  test('keeps a client messageId and generates a unique one when missing', () => {
    assert.equal(normalizeEvent(valid({ userId: 'u', event: 'e', messageId: 'm-1' }, 'track'), enrichment).messageId, 'm-1');
    const a = normalizeEvent(valid({ userId: 'u', event: 'e' }, 'track'), enrichment).messageId;
    const b = normalizeEvent(valid({ userId: 'u', event: 'e' }, 'track'), enrichment).messageId;
    assert.match(a, /^[0-9a-f-]{36}$/);
    assert.notEqual(a, b);
  });

  test('adds sourceId and receivedAt (server time), ignoring a claimed receivedAt', () => {
    const record = normalizeEvent(valid({ userId: 'u', event: 'e', receivedAt: '2001-01-01T00:00:00Z' }, 'track'), enrichment);
    assert.equal(record.sourceId, 'src_test');
    assert.equal(record.receivedAt, '2024-06-01T12:00:00.000Z');
  });

  test('originalTimestamp is what the client said; timestamp is corrected', () => {
    const said = '2024-06-01T11:59:00.000Z';
    const fromTimestamp = normalizeEvent(valid({ userId: 'u', event: 'e', timestamp: said }, 'track'), enrichment);
    assert.equal(fromTimestamp.originalTimestamp, said);
    assert.equal(fromTimestamp.timestamp, said, 'within bounds and no sentAt: the client time stands');

    const skewed = normalizeEvent(valid({ userId: 'u', event: 'e', originalTimestamp: '2024-06-01T13:00:00.000Z', sentAt: '2024-06-01T13:00:05.000Z' }, 'track'), enrichment);
    assert.equal(skewed.originalTimestamp, '2024-06-01T13:00:00.000Z');
    assert.equal(skewed.timestamp, '2024-06-01T11:59:55.000Z', 'device an hour fast: sentAt rule cancels it');

    const none = normalizeEvent(valid({ userId: 'u', event: 'e' }, 'track'), enrichment);
    assert.equal(none.originalTimestamp, undefined);
    assert.equal(none.timestamp, '2024-06-01T12:00:00.000Z');
  });

  test('a batch-level sentAt applies to events without their own', () => {
    const record = normalizeEvent(valid({ userId: 'u', event: 'e', timestamp: '2024-06-01T10:00:00.000Z' }, 'track'), { ...enrichment, sentAt: '2024-06-01T10:00:10.000Z' });
    assert.equal(record.timestamp, '2024-06-01T11:59:50.000Z');
    assert.equal(record.sentAt, '2024-06-01T10:00:10.000Z');
  });

  test('page gets event page_viewed and category page, keeping what the client set', () => {
    const page = normalizeEvent(valid({ anonymousId: 'a', name: 'Home', properties: { path: '/' } }, 'page'), enrichment);
    assert.equal(page.type, 'page');
    assert.equal(page.event, 'page_viewed');
    assert.equal(page.category, 'page');
    assert.equal(page.name, 'Home');
    const own = normalizeEvent(valid({ anonymousId: 'a', category: 'Docs' }, 'page'), enrichment);
    assert.equal(own.category, 'Docs');
    const screen = normalizeEvent(valid({ anonymousId: 'a', name: 'S' }, 'screen'), enrichment);
    assert.equal(screen.event, undefined);
  });

  test('writeKey is stripped from the record', () => {
    const record = normalizeEvent(valid({ userId: 'u', event: 'e', writeKey: 'wk_secret' }, 'track'), enrichment);
    assert.ok(!('writeKey' in record));
    assert.ok(!JSON.stringify(record).includes('wk_secret'));
  });

  test("context.inlet is the server's: a client's claim to be checked by a plan or replayed is not kept; the rest of its context is", () => {
    const record = normalizeEvent(valid({ userId: 'u', event: 'e', context: { inlet: { plan: { version: 99 }, replayed: 'fe_forged' }, locale: 'fr-FR' } }, 'track'), enrichment);
    assert.equal(record.context.inlet, undefined);
    assert.equal(record.context.locale, 'fr-FR');
  });

  test('numeric ids become strings; null ids are dropped', () => {
    const record = normalizeEvent(valid({ userId: 42, anonymousId: null, groupId: 7 }, 'group'), enrichment);
    assert.equal(record.userId, '42');
    assert.equal(record.groupId, '7');
    assert.ok(!('anonymousId' in record));
    const alias = normalizeEvent(valid({ userId: 'u', previousId: 9 }, 'alias'), enrichment);
    assert.equal(alias.previousId, '9');
  });

  test('context.ip comes from the enrichment, never the client claim', () => {
    const claim = { userId: 'u', event: 'e', context: { ip: '6.6.6.6', locale: 'en' } };
    const full = normalizeEvent(valid(structuredClone(claim), 'track'), enrichment);
    assert.equal(full.context.ip, '203.0.113.9');
    assert.equal(full.context.locale, 'en');
    assert.equal(normalizeEvent(valid(structuredClone(claim), 'track'), { ...enrichment, ipPolicy: 'anonymize' }).context.ip, '203.0.113.0');
    const dropped = normalizeEvent(valid(structuredClone(claim), 'track'), { ...enrichment, ipPolicy: 'drop' });
    assert.ok(!('ip' in dropped.context));
    const unknownPeer = normalizeEvent(valid(structuredClone(claim), 'track'), { ...enrichment, ip: undefined });
    assert.ok(!('ip' in unknownPeer.context));
  });

  test("keepClientIp (server sources): a valid claimed address is kept, with the IP policy; without one there is none (the peer is the back end, not a user)", () => {
    const server = { ...enrichment, keepClientIp: true };
    const claim = (ip: unknown) => valid({ userId: 'u', event: 'e', context: { ip } }, 'track');
    assert.equal(normalizeEvent(claim('198.51.100.23'), server).context.ip, '198.51.100.23');
    assert.equal(normalizeEvent(claim('2001:db8:1:2::9'), { ...server, ipPolicy: 'anonymize' }).context.ip, '2001:db8:1::');
    assert.ok(!('ip' in normalizeEvent(claim('198.51.100.23'), { ...server, ipPolicy: 'drop' }).context));
    for (const bad of ['nope', 42, '', '1.2.3.4.5']) assert.ok(!('ip' in normalizeEvent(claim(bad), server).context), JSON.stringify(bad));
    assert.ok(!('ip' in normalizeEvent(valid({ userId: 'u', event: 'e' }, 'track'), server).context));
  });

  test("timestamp and originalTimestamp disagree: the caller's timestamp is the event's time (Segment spec)", () => {
    const record = normalizeEvent(valid({ userId: 'u', event: 'e', originalTimestamp: '2024-06-01T11:59:59.000Z', timestamp: '2024-06-01T09:00:00.000Z' }, 'track'), enrichment);
    assert.equal(record.originalTimestamp, '2024-06-01T09:00:00.000Z');
    assert.equal(record.timestamp, '2024-06-01T09:00:00.000Z');
  });

  test('timeAsGiven (imports, server sources): a time years old is kept; without it, server time', () => {
    const old = valid({ userId: 'u', event: 'e', timestamp: '2019-03-01T08:00:00.000Z' }, 'track');
    assert.equal(normalizeEvent(structuredClone(old), { ...enrichment, timeAsGiven: true }).timestamp, '2019-03-01T08:00:00.000Z');
    assert.equal(normalizeEvent(structuredClone(old), enrichment).timestamp, '2024-06-01T12:00:00.000Z');
  });

  test('does not modify the client event it was given', () => {
    const event = valid({ userId: 'u', event: 'e', context: { ip: '6.6.6.6' }, writeKey: 'k' }, 'track');
    normalizeEvent(event, enrichment);
    assert.equal((event.context as { ip: string }).ip, '6.6.6.6');
    assert.equal(event.writeKey, 'k');
  });
});
