import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_TYPES, isTimestamp, validateEvent, type Validation } from '@inlet/schema';

const rejected = (v: Validation): string[] => {
  assert.equal(v.ok, false, 'expected the event to be rejected');
  return v.ok ? [] : v.errors;
};

/** An object nested `levels` deep under properties: { a: { a: ... } }. */
function nested(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 1; i < levels; i++) {
    const child: Record<string, unknown> = {};
    node.a = child;
    node = child;
  }
  return root;
}

const minimal = {
  track: { userId: 'u1', event: 'Signed Up' },
  identify: { userId: 'u1', traits: { plan: 'pro' } },
  page: { anonymousId: 'a1', name: 'Home' },
  screen: { anonymousId: 'a1', name: 'Settings' },
  group: { userId: 'u1', groupId: 'g1' },
  alias: { userId: 'u1', previousId: 'a1' },
} as const;

describe('validateEvent: each type', () => {
  for (const type of EVENT_TYPES) {
    test(`${type}: a minimal event passes from the route and from a batch`, () => {
      const viaRoute = validateEvent({ ...minimal[type] }, type);
      assert.ok(viaRoute.ok, JSON.stringify(viaRoute));
      assert.equal(viaRoute.event.type, type);
      const viaBatch = validateEvent({ ...minimal[type], type });
      assert.ok(viaBatch.ok);
      assert.equal(viaBatch.event.type, type);
    });
  }

  test('track needs a non-empty string event', () => {
    assert.match(rejected(validateEvent({ userId: 'u' }, 'track'))[0], /event is required/);
    assert.match(rejected(validateEvent({ userId: 'u', event: 42 }, 'track'))[0], /event must be string/);
    assert.ok(!validateEvent({ userId: 'u', event: '' }, 'track').ok);
  });

  test('group needs groupId, alias needs previousId', () => {
    assert.match(rejected(validateEvent({ userId: 'u' }, 'group'))[0], /groupId is required/);
    assert.match(rejected(validateEvent({ userId: 'u' }, 'alias'))[0], /previousId is required/);
    assert.ok(validateEvent({ userId: 'u', groupId: 17 }, 'group').ok, 'numeric groupId is accepted');
  });

  test('page and screen names must be strings', () => {
    assert.ok(!validateEvent({ userId: 'u', name: 7 }, 'page').ok);
    assert.ok(!validateEvent({ userId: 'u', name: ['x'] }, 'screen').ok);
  });

  test('a batch item needs a known type; the route type must match the body type', () => {
    assert.match(rejected(validateEvent({ userId: 'u', event: 'e' }))[0], /type must be one of/);
    assert.match(rejected(validateEvent({ userId: 'u', type: 'purchase' }))[0], /type must be one of/);
    for (const type of ['__proto__', 'constructor', 'toString']) assert.ok(!validateEvent({ userId: 'u', type }).ok, type);
    assert.match(rejected(validateEvent({ userId: 'u', type: 'identify' }, 'track'))[0], /does not match/);
  });

  test('an event must be a JSON object', () => {
    for (const input of [null, 'track', 42, [], [{ userId: 'u' }], true]) {
      assert.match(rejected(validateEvent(input, 'track'))[0], /JSON object/, JSON.stringify(input));
    }
  });
});

describe('validateEvent: identity', () => {
  test('userId or anonymousId is required', () => {
    assert.match(rejected(validateEvent({ event: 'e' }, 'track'))[0], /userId or anonymousId is required/);
    assert.ok(!validateEvent({ event: 'e', userId: '', anonymousId: null }, 'track').ok, 'empty and null ids do not count');
    assert.ok(validateEvent({ event: 'e', anonymousId: 'a' }, 'track').ok);
    assert.ok(validateEvent({ event: 'e', userId: 123 }, 'track').ok, 'numeric ids are allowed');
    assert.ok(validateEvent({ event: 'e', userId: null, anonymousId: 'a' }, 'track').ok);
  });

  test('ids of the wrong type are rejected', () => {
    assert.match(rejected(validateEvent({ event: 'e', userId: { id: 1 } }, 'track'))[0], /userId must be/);
    assert.ok(!validateEvent({ event: 'e', anonymousId: ['a'] }, 'track').ok);
    assert.ok(!validateEvent({ event: 'e', userId: 'u', messageId: 5 }, 'track').ok, 'messageId must be a string');
    assert.ok(!validateEvent({ event: 'e', userId: 'u', messageId: '' }, 'track').ok);
  });
});

describe('validateEvent: field types', () => {
  test('properties, traits, context and integrations must be objects', () => {
    for (const field of ['properties', 'traits', 'context', 'integrations']) {
      assert.match(rejected(validateEvent({ event: 'e', userId: 'u', [field]: [] }, 'track'))[0], new RegExp(`${field} must be object`));
      assert.ok(!validateEvent({ event: 'e', userId: 'u', [field]: 'x' }, 'track').ok, field);
    }
  });

  test('a field of several allowed types names them all, in words', () => {
    assert.equal(rejected(validateEvent({ event: 'e', userId: {} }, 'track'))[0], 'userId must be string, number or null');
  });

  test('timestamps that are not dates are rejected', () => {
    for (const field of ['timestamp', 'originalTimestamp', 'sentAt']) {
      for (const value of ['not a date', 'foo 1', '1', '2024-13-45T99:00:00Z', 1704067200000, '']) {
        assert.ok(!validateEvent({ event: 'e', userId: 'u', [field]: value }, 'track').ok, `${field}=${JSON.stringify(value)}`);
      }
    }
    assert.match(rejected(validateEvent({ event: 'e', userId: 'u', timestamp: 'yesterday' }, 'track'))[0], /timestamp is not a valid date-time/);
  });

  test('ISO 8601 timestamps pass', () => {
    for (const value of ['2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00.123456Z', '2024-01-01']) {
      assert.ok(isTimestamp(value), value);
      assert.ok(validateEvent({ event: 'e', userId: 'u', timestamp: value }, 'track').ok, value);
    }
  });
});

describe('validateEvent: prototype pollution and depth', () => {
  test('a __proto__ key anywhere is rejected (as JSON.parse delivers it)', () => {
    for (const json of [
      '{"userId":"u","event":"e","__proto__":{"polluted":1}}',
      '{"userId":"u","event":"e","properties":{"__proto__":{"polluted":1}}}',
      '{"userId":"u","event":"e","context":{"list":[{"deep":{"__proto__":{"polluted":1}}}]}}',
    ]) {
      assert.match(rejected(validateEvent(JSON.parse(json), 'track'))[0], /__proto__/, json);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('constructor.prototype is rejected; a plain "constructor" value is data', () => {
    const bad = JSON.parse('{"userId":"u","event":"e","traits":{"constructor":{"prototype":{"isAdmin":true}}}}');
    assert.match(rejected(validateEvent(bad, 'identify'))[0], /constructor\.prototype/);
    assert.ok(validateEvent({ userId: 'u', event: 'e', properties: { constructor: 'Ferrari' } }, 'track').ok);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });

  test('nesting up to 256 levels passes, deeper is rejected', () => {
    assert.ok(validateEvent({ userId: 'u', event: 'e', properties: nested(250) }, 'track').ok);
    assert.match(rejected(validateEvent({ userId: 'u', event: 'e', properties: nested(300) }, 'track'))[0], /nested deeper than 256/);
  });

  test('10,000 levels (objects and arrays, from JSON) are rejected without a stack overflow', () => {
    const objects = `{"userId":"u","event":"e","properties":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    const arrays = `{"userId":"u","event":"e","properties":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
    for (const json of [objects, arrays]) assert.match(rejected(validateEvent(JSON.parse(json), 'track'))[0], /nested deeper/);
  });
});

describe('null and server-set fields', () => {
  test('an optional field sent as null is taken as absent (SDKs send null for "not given"); a required one is still refused', () => {
    for (const field of ['messageId', 'timestamp', 'originalTimestamp', 'sentAt', 'context', 'properties', 'traits', 'integrations']) {
      const v = validateEvent({ type: 'track', userId: 'u', event: 'e', properties: { a: 1 }, [field]: null });
      assert.ok(v.ok, `${field}: null ${JSON.stringify(v)}`);
      assert.ok(!(field in v.event), `${field} is dropped`);
    }
    const page = validateEvent({ type: 'page', anonymousId: 'a', name: null, category: null, properties: null });
    assert.ok(page.ok, JSON.stringify(page));
    assert.deepEqual(rejected(validateEvent({ type: 'track', userId: 'u', event: null, properties: null })), ['event must be string']);
    assert.deepEqual(rejected(validateEvent({ type: 'group', userId: 'u', groupId: null })), ['groupId must be string or number']);
    assert.deepEqual(rejected(validateEvent({ type: 'track', userId: 'u', event: 'e', properties: 'nope', traits: null })), ['properties must be object'], 'other errors still count');
  });

  test('a receivedAt the client sent is not checked: the server sets its own', () => {
    assert.ok(validateEvent({ type: 'track', userId: 'u', event: 'e', receivedAt: 'whenever' }).ok);
  });
});
