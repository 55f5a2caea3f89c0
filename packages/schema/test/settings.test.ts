// The settings kit: what every Inlet package's options go through. Each rule from code and from
// text (env vars, flags), defaults, nesting, unknown keys, and the error every refusal becomes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  atLeast, boolean, checkSetting, checkSettings, duration, func, INVALID_SETTING, integer, InvalidSettingError, list, object, oneOf, refuse, rule, text, then, url,
} from '../src/settings.ts';

/** The error a call throws, asserted to be the kit's. */
function refusal(call: () => unknown): InvalidSettingError {
  try {
    call();
  } catch (error) {
    assert.ok(error instanceof InvalidSettingError, `an InvalidSettingError, got ${String(error)}`);
    assert.equal(error.code, INVALID_SETTING);
    assert.equal(error.name, 'InvalidSettingError');
    assert.ok(!error.message.includes('\n'), 'one line');
    return error;
  }
  assert.fail('no error thrown');
}

describe('rules', () => {
  test('integer: from code only numbers; from text, digits', () => {
    const spec = { n: integer(1, 10) };
    assert.equal(checkSettings(spec, { n: 5 }).n, 5);
    assert.equal(checkSettings(spec, { n: '5' }, { text: true }).n, 5);
    for (const bad of ['5', 0, 11, 1.5, NaN, null]) {
      assert.equal(refusal(() => checkSettings(spec, { n: bad })).message, `n must be an integer from 1 to 10, got ${JSON.stringify(bad)}`);
    }
    for (const bad of ['x', '1e400', ' ', '0x5']) assert.equal(refusal(() => checkSettings(spec, { n: bad }, { text: true })).setting, 'n');
  });

  test('a required setting left out is named; default and optional fill in, empty text counts as left out', () => {
    assert.equal(refusal(() => checkSettings({ port: integer(0) }, {})).message, 'port is required');
    assert.deepEqual(checkSettings({ a: integer(0).default(7), b: integer(0).optional() }, {}), { a: 7, b: undefined });
    assert.deepEqual(checkSettings({ a: integer(0).default(7) }, { a: '' }, { text: true }), { a: 7 });
    assert.equal(refusal(() => checkSettings({ a: text().default('x') }, { a: '' })).setting, 'a');
  });

  test('boolean, oneOf, text, url, func, atLeast', () => {
    assert.equal(checkSetting('b', boolean(), true), true);
    assert.equal(checkSettings({ b: boolean() }, { b: '0' }, { text: true }).b, false);
    assert.match(refusal(() => checkSetting('b', boolean(), 'yes')).message, /^b must be true or false, got "yes"$/);
    assert.match(refusal(() => checkSetting('level', oneOf(['info', 'warn'] as const), 'loud')).message, /^level must be one of info, warn, got "loud"$/);
    assert.match(refusal(() => checkSetting('id', text({ pattern: /^\S+$/, expects: 'without spaces' }), 'a b')).message, /^id must be without spaces, got "a b"$/);
    assert.equal(checkSetting('u', url(['redis:']), 'redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
    assert.equal(refusal(() => checkSetting('f', func(), 1)).message, 'f must be a function, got 1');
    assert.equal(checkSetting('m', atLeast(0), 0.5), 0.5);
    assert.match(refusal(() => checkSetting('m', atLeast(1), 0)).message, /m must be from 1 to Infinity/);
    assert.equal(checkSetting('m', atLeast(0), Infinity), Infinity, 'a count may be unbounded');
    const delay = atLeast(0, 2 ** 31 - 1);
    for (const big of [Infinity, 3e9, 2 ** 31, Number.NaN]) assert.throws(() => checkSetting('m', delay, big), /from 0 to 2147483647/, `${big}: a timer would fire at once`);
    assert.equal(checkSetting('m', delay, 2 ** 31 - 1), 2 ** 31 - 1);
  });

  test('a secret or a URL (which may carry a password) is never repeated in the message', () => {
    const secret = refusal(() => checkSetting('key', text({ minLength: 16, secret: true, expects: 'at least 16 characters' }), 'hunter2'));
    assert.equal(secret.message, 'key must be at least 16 characters');
    const dsn = refusal(() => checkSetting('DATABASE_URL', url(['postgres:']), 'mysql://root:hunter2@db/x'));
    assert.ok(!dsn.message.includes('hunter2'), dsn.message);
  });

  test('duration: milliseconds from code; 500ms, 90s, 30m, 1h, 7d or ms from text', () => {
    const d = { d: duration(0) };
    assert.equal(checkSettings(d, { d: 1500 }).d, 1500);
    for (const [t, ms] of [['500', 500], ['500ms', 500], ['90s', 90_000], ['1.5m', 90_000], ['1h', 3_600_000], ['7d', 7 * 86_400_000]] as const) {
      assert.equal(checkSettings(d, { d: t }, { text: true }).d, ms, t);
    }
    assert.match(refusal(() => checkSettings(d, { d: 'soon' }, { text: true })).message, /d must be a duration/);
    assert.match(refusal(() => checkSettings(d, { d: '1h' })).message, /d must be an integer number of milliseconds/);
  });

  test('list: comma-separated text or an array; the wrong entry is named', () => {
    const port = rule((v) => (/^\d+$/.test(String(v)) ? Number(v) : refuse('is not a port')));
    assert.deepEqual(checkSetting('ports', list(port), ' 1, 2 ,'), [1, 2]);
    assert.deepEqual(checkSetting('ports', list(port), ['3']), [3]);
    assert.equal(refusal(() => checkSetting('ports', list(port), '1,x')).message, 'ports entry "x" is not a port');
    assert.match(refusal(() => checkSetting('ports', list(port, { nonEmpty: true }), ' , ')).message, /^ports must be a list/);
  });

  test('then: a rule built on another converts or refuses what it returned', () => {
    const even = then(integer(0), (n) => (n % 2 === 0 ? n / 2 : refuse(`must be even, got ${n}`)));
    assert.equal(checkSetting('n', even, 4), 2);
    assert.equal(refusal(() => checkSetting('n', even, 3)).message, 'n must be even, got 3');
  });
});

describe('checkSettings', () => {
  test('nested objects name their settings outer.inner, and the label comes first', () => {
    const spec = { kafka: object({ brokers: list(text()), topic: text().default('raw-events') }).optional() };
    assert.deepEqual(checkSettings(spec, { kafka: { brokers: 'a:1' } }), { kafka: { brokers: ['a:1'], topic: 'raw-events' } });
    const error = refusal(() => checkSettings(spec, { kafka: { brokers: 'a:1', topic: 7 } }, { label: '@inlet/node' }));
    assert.equal(error.setting, 'kafka.topic');
    assert.equal(error.message, '@inlet/node: kafka.topic must be a non-empty string, got 7');
    assert.equal(refusal(() => checkSettings(spec, { kafka: 'a:1' })).setting, 'kafka');
  });

  test('a key the spec does not know is refused, naming it and the known ones; unless told to leave others alone', () => {
    const spec = { flushIntervalMs: integer(1).default(1000) };
    const error = refusal(() => checkSettings(spec, { flushInterval: 10 }));
    assert.equal(error.setting, 'flushInterval');
    assert.match(error.message, /flushInterval is not a setting \(known: flushIntervalMs\)/);
    assert.deepEqual(checkSettings(spec, { flushInterval: 10 }, { ignoreUnknown: true }), { flushIntervalMs: 1000 });
    assert.deepEqual(checkSettings(spec, { flushInterval: undefined }), { flushIntervalMs: 1000 });
  });

  test('options that are not an object are refused, not read', () => {
    for (const bad of [undefined, null, 'x', 3]) assert.match(refusal(() => checkSettings({}, bad as never, { label: 'Inlet' })).message, /^Inlet: options must be an object/);
  });

  test('an error that is not a refusal (a bug in a rule) is not disguised as a wrong setting', () => {
    const broken = rule(() => { throw new RangeError('bug'); });
    assert.throws(() => checkSetting('x', broken, 1), RangeError);
  });
});
