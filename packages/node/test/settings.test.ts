import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSettings, InvalidSettingError, MAX_BATCH_BYTES } from '../src/settings.ts';

const http = { writeKey: 'wk_test', endpoint: 'http://127.0.0.1:8080' };

test('defaults follow the SDK contract and stay within the server limits', () => {
  const s = resolveSettings(http);
  assert.equal(s.flushIntervalMs, 1000);
  assert.equal(s.maxBatchSize, 500);
  assert.equal(s.maxQueueSize, 10_000);
  assert.equal(s.maxEventBytes, 32 * 1024);
  assert.ok(s.maxBatchBytes <= 500 * 1024);
  assert.equal(s.transport.kind, 'http');
  assert.ok(s.transport.kind === 'http' && s.transport.gzip);
});

test('bad options fail at construction with a message naming the option', () => {
  const cases: [object, RegExp][] = [
    [{ endpoint: 'http://x' }, /writeKey/],
    [{ writeKey: 'k' }, /endpoint/],
    [{ writeKey: 'k', endpoint: 'not a url' }, /endpoint must be an http: or https: URL/],
    [{ writeKey: 'k', endpoint: 'ftp://x' }, /http: or https:/],
    [{ ...http, maxBatchSize: 1001 }, /maxBatchSize must be an integer from 1 to 1000/],
    [{ ...http, maxBatchSize: 0 }, /maxBatchSize/],
    [{ ...http, maxBatchBytes: MAX_BATCH_BYTES + 1 }, /maxBatchBytes/],
    [{ ...http, maxEventBytes: 64 * 1024 }, /maxEventBytes/],
    [{ ...http, maxEventBytes: 512 }, /maxEventBytes must be an integer from 1024/],
    [{ ...http, flushIntervalMs: 1.5 }, /flushIntervalMs/],
    [{ ...http, maxQueueSize: '10' }, /maxQueueSize/],
    [{ ...http, gzip: 'yes' }, /gzip/],
    [{ ...http, app: { version: 3 } }, /app.version/],
    [{ ...http, kafka: { brokers: ['h:1'], sourceId: 's' } }, /endpoint and kafka: give one/],
    [{ ...http, flushInterval: 100 }, /flushInterval is not a setting/],
    [{ ...http, writeKey: 12345 }, /writeKey must be a non-empty string$/],
    [{ ...http, minRetryDelayMs: 500, maxRetryDelayMs: 100 }, /maxRetryDelayMs must be at least minRetryDelayMs/],
    [{ kafka: { brokers: [], sourceId: 's' } }, /kafka.brokers/],
    [{ kafka: { brokers: 'localhost', sourceId: 's' } }, /host:port/],
    [{ kafka: { brokers: 'localhost:9092' } }, /sourceId/],
    [{ kafka: { brokers: 'localhost:9092', sourceId: 's', ipPolicy: 'keep' } }, /kafka.ipPolicy must be one of full, anonymize, drop/],
    [{ kafka: { brokers: 'localhost:9092', sourceId: 's', topic: 'bad topic!' } }, /^@inlet\/node: kafka.topic must be 1-249 characters/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => resolveSettings(options), (e: unknown) => e instanceof InvalidSettingError && e.code === 'INLET_INVALID_SETTING' && message.test(e.message), JSON.stringify(options));
  }
});

test('kafka settings: comma-separated brokers, default topic and IP policy, top-level sourceId', () => {
  const s = resolveSettings({ kafka: { brokers: 'a:1, b:2' }, sourceId: 'src_1' });
  assert.deepEqual(s.transport, { kind: 'kafka', brokers: ['a:1', 'b:2'], topic: 'raw-events', sourceId: 'src_1', ipPolicy: 'drop', clientId: '@inlet/node', timeoutMs: 10_000 });
});

test('app version falls back to APP_VERSION', () => {
  const saved = process.env.APP_VERSION;
  process.env.APP_VERSION = '9.9.9';
  try {
    assert.deepEqual(resolveSettings({ ...http, app: { name: 'api' } }).app, { name: 'api', version: '9.9.9' });
    assert.deepEqual(resolveSettings(http).app, { version: '9.9.9' });
    assert.deepEqual(resolveSettings({ ...http, app: { name: 'api', version: '1.0.0' } }).app, { name: 'api', version: '1.0.0' });
    delete process.env.APP_VERSION;
    assert.equal(resolveSettings(http).app, undefined);
  } finally {
    if (saved === undefined) delete process.env.APP_VERSION;
    else process.env.APP_VERSION = saved;
  }
});
