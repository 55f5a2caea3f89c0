import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSettings, duration } from '@inlet/schema/settings';
import { Processor, InvalidSettingError, PROCESSOR_USAGE, resolveOptions, parseProcessorArgs } from '../src/index.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('processor options', () => {
  test('defaults', () => {
    const o = resolveOptions({ brokers: 'a:9092, b:9093', instanceId: 'i1', logger: quiet });
    assert.deepEqual(o.brokers, ['a:9092', 'b:9093']);
    assert.equal(o.groupId, 'inlet-processor');
    assert.equal(o.inputTopic, 'raw-events');
    assert.equal(o.outputTopic, 'events');
    assert.equal(o.changelogTopic, 'inlet-processor-dedup-changelog');
    assert.equal(o.windowMs, 3_600_000);
    assert.equal(o.transactionalId, 'inlet-processor-i1');
    assert.equal(o.changelogRetentionMs, 3_600_000 + 2 * 300_000 + 86_400_000, 'the window, twice max-disorder and a day');
    assert.equal(o.startFrom, 'earliest');
    assert.equal(o.metricsPort, undefined);
  });

  test('a random instance id when none is given, so two instances never share a transactional id', () => {
    const a = resolveOptions({ brokers: ['k:1'], logger: quiet });
    const b = resolveOptions({ brokers: ['k:1'], logger: quiet });
    assert.notEqual(a.transactionalId, b.transactionalId);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['no brokers', {}, /brokers is required/],
    ['empty brokers', { brokers: ' , ' }, /brokers must be host:port entries/],
    ['broker without port', { brokers: 'localhost' }, /not host:port/],
    ['window zero', { brokers: 'k:1', windowMs: 0 }, /windowMs/],
    ['window not integer', { brokers: 'k:1', windowMs: 1.5 }, /windowMs/],
    ['bad topic name', { brokers: 'k:1', outputTopic: 'a b' }, /outputTopic/],
    ['same input and output', { brokers: 'k:1', inputTopic: 'x', outputTopic: 'x' }, /must differ/],
    ['bad startFrom', { brokers: 'k:1', startFrom: 'middle' }, /startFrom/],
    ['heartbeat not below session', { brokers: 'k:1', sessionTimeoutMs: 5000, heartbeatIntervalMs: 5000 }, /heartbeatIntervalMs/],
    ['metrics port out of range', { brokers: 'k:1', metricsPort: 70000 }, /metricsPort/],
    ['a window given as text', { brokers: 'k:1', windowMs: '1h' }, /windowMs must be an integer number of milliseconds/],
    ['a misspelt option', { brokers: 'k:1', windowMS: 1000 }, /windowMS is not a setting/],
    ['a logger without warn', { brokers: 'k:1', logger: { info() {}, error() {} } }, /logger must be an object with info, warn and error functions/],
    ['retention shorter than window', { brokers: 'k:1', windowMs: 10_000, changelogRetentionMs: 5000 }, /changelogRetentionMs/],
  ];
  for (const [name, options, message] of invalid) {
    test(`rejects ${name} at construction`, () => {
      assert.throws(() => new Processor({ logger: quiet, ...options } as any), (error: Error) => error instanceof InvalidSettingError && error.code === 'INLET_INVALID_SETTING' && message.test(error.message));
    });
  }
});

describe('processor command line', () => {
  test('flags win over the environment; durations parse', () => {
    const options = parseProcessorArgs(['--brokers', 'k:1', '--window', '30m', '--instance-id', 'p1', '--metrics-port', '9464'], { KAFKA_BROKERS: 'env:1', KAFKA_TOPIC: 'raw-x', INLET_PROCESSOR_GROUP: 'g' })!;
    assert.deepEqual(options.brokers, ['k:1']);
    assert.equal(options.windowMs, 30 * 60_000);
    assert.equal(options.inputTopic, 'raw-x');
    assert.equal(options.groupId, 'g');
    assert.equal(options.instanceId, 'p1');
    assert.equal(options.metricsPort, 9464);
  });

  test('/metrics is served on the loopback unless --metrics-host or INLET_PROCESSOR_METRICS_HOST opens it wider (it has no authentication)', () => {
    assert.equal(resolveOptions({ brokers: 'k:1', metricsPort: 9464, logger: quiet }).metricsHost, '127.0.0.1');
    const resolved = (argv: string[], env: NodeJS.ProcessEnv) => resolveOptions({ ...parseProcessorArgs(['--brokers', 'k:1', '--metrics-port', '9464', ...argv], env)!, logger: quiet }).metricsHost;
    assert.equal(resolved([], {}), '127.0.0.1');
    assert.equal(resolved([], { INLET_PROCESSOR_METRICS_HOST: '0.0.0.0' }), '0.0.0.0', 'a Kubernetes pod, for Prometheus to scrape');
    assert.equal(resolved(['--metrics-host', '0.0.0.0'], {}), '0.0.0.0');
    assert.equal(resolved(['--metrics-host', '10.0.0.5'], { INLET_PROCESSOR_METRICS_HOST: '0.0.0.0' }), '10.0.0.5', 'the flag wins');
    assert.match(PROCESSOR_USAGE, /--metrics-host HOST [^\n]*\(env INLET_PROCESSOR_METRICS_HOST, default 127\.0\.0\.1\)/);
  });

  test('--help returns nothing to run', () => {
    assert.equal(parseProcessorArgs(['--help'], {}), undefined);
  });

  test('--help says which repeats are caught and which are not (another key)', () => {
    assert.match(PROCESSOR_USAGE.replace(/\s+/g, ' '), /Repeats are caught within a partition, that is under the same key \(userId, else anonymousId\): a repeat sent under another key.* is not caught/);
  });

  test('missing brokers, unknown flags and bad values are errors', () => {
    assert.throws(() => parseProcessorArgs([], {}), /--brokers/);
    assert.throws(() => parseProcessorArgs(['--brokers', 'k:1', '--nope'], {}), (e: InvalidSettingError) => e.setting === '--nope' && /is not an option/.test(e.message));
    assert.throws(() => parseProcessorArgs(['--brokers', 'k:1', '--window', 'soon'], {}), (e: InvalidSettingError) => e.setting === '--window' && /--window must be a duration/.test(e.message));
    assert.throws(() => parseProcessorArgs(['--brokers', 'k:1', '--max-batch', 'lots'], {}), /--max-batch must be an integer from 1 to 1000000, got "lots"/);
    assert.throws(() => parseProcessorArgs(['--brokers', 'nohost'], {}), /--brokers entry "nohost" is not host:port/);
    assert.throws(() => parseProcessorArgs([], { KAFKA_BROKERS: 'k:1', KAFKA_TOPIC: 'bad topic!' }), /--input must be 1-249 characters/);
  });

  test('durations', () => {
    const parseDuration = (text: string) => checkSettings({ x: duration(0) }, { x: text }, { text: true }).x;
    assert.equal(parseDuration('500'), 500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1.5m'), 90_000);
  });
});
