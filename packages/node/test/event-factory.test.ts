import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateEvent } from '@inlet/schema';
import { EventFactory, InvalidEventError } from '../src/event-factory.ts';

const factory = new EventFactory({ name: 'api', version: '2.0.0' });

test('events carry messageId, timestamp, library and app, and pass the shared schema', () => {
  const events = [
    factory.track('u1', 'clicked', { a: 1 }, undefined),
    factory.identify('u1', { plan: 'pro' }, undefined),
    factory.page('u1', 'Home', {}, undefined),
    factory.group('u1', 42, {}, undefined),
    factory.alias('u1', 'anon', undefined),
    factory.track(undefined, 'job', {}, { anonymousId: 'system' }),
  ];
  for (const e of events) {
    assert.match(e.messageId!, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
    assert.ok(Math.abs(Date.parse(e.timestamp!) - Date.now()) < 5000);
    assert.deepEqual(e.context, { library: { name: '@inlet/node', version: '0.1.0' }, app: { name: 'api', version: '2.0.0' } });
    const v = validateEvent(JSON.parse(JSON.stringify(e)));
    assert.ok(v.ok, JSON.stringify(v));
  }
  assert.notEqual(events[0].messageId, events[1].messageId);
  assert.equal(events[3].groupId, '42');
});

test('per-call options override without touching the shared context', () => {
  const e = factory.track('u1', 'x', undefined, { context: { locale: 'de' }, timestamp: '2024-01-01T00:00:00Z', messageId: 'm1', integrations: { All: false } });
  assert.equal(e.messageId, 'm1');
  assert.equal(e.timestamp, '2024-01-01T00:00:00Z');
  assert.equal((e.context as Record<string, unknown>).locale, 'de');
  assert.deepEqual(e.integrations, { All: false });
  assert.deepEqual(e.properties, {});
  assert.equal((factory.track('u1', 'y', {}, undefined).context as Record<string, unknown>).locale, undefined);
});

test('bad arguments throw InvalidEventError (the SDK turns these into drops)', () => {
  const bad: (() => unknown)[] = [
    () => factory.track(undefined, 'x', {}, undefined),
    () => factory.track('', 'x', {}, undefined),
    () => factory.track('u', '', {}, undefined),
    () => factory.track('u', 'x', [] as never, undefined),
    () => factory.track('u', 'x', {}, { timestamp: 'yesterday' }),
    () => factory.track('u', 'x', {}, { context: 'c' as never }),
    () => factory.group('u', '', {}, undefined),
    () => factory.alias('u', undefined, undefined),
    () => factory.page('u', 5, {}, undefined),
  ];
  for (const f of bad) assert.throws(f, InvalidEventError);
});
