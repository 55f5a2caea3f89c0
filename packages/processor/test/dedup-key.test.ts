import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dedupIdentity } from '../src/dedup-key.ts';

const noHeaders = () => undefined;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('dedupIdentity', () => {
  test('same source and messageId give the same key; another source another key', () => {
    const a = dedupIdentity(json({ sourceId: 's1', messageId: 'm1', receivedAt: '2026-01-01T00:00:00.000Z', event: 'x' }), noHeaders, 0)!;
    const b = dedupIdentity(json({ sourceId: 's1', messageId: 'm1', receivedAt: '2026-01-01T00:30:00.000Z', event: 'y' }), noHeaders, 0)!;
    const c = dedupIdentity(json({ sourceId: 's2', messageId: 'm1', receivedAt: '2026-01-01T00:00:00.000Z' }), noHeaders, 0)!;
    assert.equal(a.key, b.key);
    assert.notEqual(a.key, c.key);
    assert.equal(a.receivedAt, Date.parse('2026-01-01T00:00:00.000Z'));
  });

  test('without a messageId the key comes from event name, user and timestamp', () => {
    const base = { sourceId: 's1', type: 'track', event: 'clicked', userId: 'u1', timestamp: '2026-01-01T00:00:00.000Z', receivedAt: '2026-01-01T00:00:01.000Z' };
    const a = dedupIdentity(json(base), noHeaders, 0)!;
    const same = dedupIdentity(json({ ...base, receivedAt: '2026-01-01T00:00:09.000Z', properties: { other: 1 } }), noHeaders, 0)!;
    const otherUser = dedupIdentity(json({ ...base, userId: 'u2' }), noHeaders, 0)!;
    const otherTime = dedupIdentity(json({ ...base, timestamp: '2026-01-01T00:00:00.001Z' }), noHeaders, 0)!;
    const otherEvent = dedupIdentity(json({ ...base, event: 'viewed' }), noHeaders, 0)!;
    assert.equal(a.key, same.key);
    assert.equal(a.key.length, 16);
    assert.notEqual(a.key, otherUser.key);
    assert.notEqual(a.key, otherTime.key);
    assert.notEqual(a.key, otherEvent.key);
    const withId = dedupIdentity(json({ ...base, messageId: 'm1' }), noHeaders, 0)!;
    assert.notEqual(a.key, withId.key, 'a fallback key never equals a messageId key');
  });

  test('anonymous events fall back to anonymousId', () => {
    const a = dedupIdentity(json({ sourceId: 's', event: 'e', anonymousId: 'anon-1', timestamp: 't' }), noHeaders, 0)!;
    const b = dedupIdentity(json({ sourceId: 's', event: 'e', anonymousId: 'anon-2', timestamp: 't' }), noHeaders, 0)!;
    assert.notEqual(a.key, b.key);
  });

  test('headers fill in a missing sourceId or messageId', () => {
    const headers = new Map([['source-id', 's9'], ['message-id', 'm9']]);
    const fromHeaders = dedupIdentity(json({ receivedAt: '2026-01-01T00:00:00Z' }), (n) => headers.get(n), 0)!;
    const fromValue = dedupIdentity(json({ sourceId: 's9', messageId: 'm9' }), noHeaders, 0)!;
    assert.equal(fromHeaders.key, fromValue.key);
  });

  test('with the sink\'s headers the value is not parsed, and the result is the same', () => {
    const event = { type: 'track', sourceId: 's1', messageId: 'm1', receivedAt: '2026-01-01T00:00:00.000Z', properties: { note: 'x' } };
    const headers = new Map([['source-id', 's1'], ['message-id', 'm1']]);
    const fast = dedupIdentity(json(event), (n) => headers.get(n), 0)!;
    const slow = dedupIdentity(json(event), noHeaders, 0)!;
    assert.deepEqual(fast, slow);
  });

  test('a receivedAt nested in properties does not stand in for the real one', () => {
    const headers = new Map([['source-id', 's1'], ['message-id', 'm1']]);
    const nestedFirst = Buffer.from('{"properties":{"receivedAt":"2020-01-01T00:00:00.000Z"},"receivedAt":"2026-01-01T00:00:00.000Z","sourceId":"s1"}');
    assert.equal(dedupIdentity(nestedFirst, (n) => headers.get(n), 0)!.receivedAt, Date.parse('2026-01-01T00:00:00.000Z'));
    const onlyNested = Buffer.from('{"properties":{"receivedAt":"2020-01-01T00:00:00.000Z"},"sourceId":"s1"}');
    assert.equal(dedupIdentity(onlyNested, (n) => headers.get(n), 777)!.receivedAt, Date.parse('2020-01-01T00:00:00.000Z'), 'one occurrence is taken as the field (documented)');
  });

  test('a missing or unreadable receivedAt falls back to the record timestamp', () => {
    assert.equal(dedupIdentity(json({ sourceId: 's', messageId: 'm' }), noHeaders, 1234)!.receivedAt, 1234);
    assert.equal(dedupIdentity(json({ sourceId: 's', messageId: 'm', receivedAt: 'yesterday' }), noHeaders, 99)!.receivedAt, 99);
  });

  test('values that are not JSON objects have no identity', () => {
    for (const value of [Buffer.from('not json'), Buffer.from('[1,2]'), Buffer.from('null'), Buffer.from('"s"'), Buffer.alloc(0), null]) {
      assert.equal(dedupIdentity(value, noHeaders, 0), undefined);
    }
  });
});
