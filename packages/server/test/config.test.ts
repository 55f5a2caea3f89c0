import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { DEFAULT_LIMITS } from '@inlet/schema';
import { InvalidSettingError, loadConfig } from '../src/config.ts';

const fails = (argv: string[], env: NodeJS.ProcessEnv, naming: RegExp) => {
  assert.throws(() => loadConfig(argv, env), (error: unknown) => {
    assert.ok(error instanceof InvalidSettingError, `an InvalidSettingError, got ${String(error)}`);
    assert.equal(error.code, 'INLET_INVALID_SETTING');
    assert.ok(!error.message.includes('\n'), 'one line');
    assert.match(error.message, naming);
    return true;
  }, `${JSON.stringify(argv)} ${JSON.stringify(env)}`);
};

describe('loadConfig', () => {
  test('defaults: port 8080, ./.inlet, embedded sink, design limits', () => {
    const config = loadConfig([], {});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.dataDir, resolve('.inlet'));
    assert.equal(config.logLevel, 'info');
    assert.equal(config.kafka, undefined);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.databaseUrl, undefined);
    assert.deepEqual(config.limits, { ...DEFAULT_LIMITS });
    assert.deepEqual(config.limits, { maxEventBytes: 32 * 1024, maxBatchEvents: 1000, maxBodyBytes: 500 * 1024 });
    assert.deepEqual(config.trustedProxies, []);
    assert.ok(config.rateLimit.requestsPerMinute > 0 && config.rateLimit.eventsPerMinute > 0);
    assert.ok(config.sinkTimeoutMs > 0);
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 8081 });
    assert.equal(config.metricsOnPublicPort, false);
    assert.deepEqual(config.failed, { retentionDays: 7, maxBytes: 1024 ** 3 });
  });

  test('the admin listener, metrics on the public port, and the failed-events bounds', () => {
    const config = loadConfig([], {
      ADMIN_HOST: '0.0.0.0', ADMIN_PORT: '9100', METRICS_ON_PUBLIC_PORT: 'true', FAILED_RETENTION_DAYS: '30', FAILED_MAX_BYTES: '1048576',
      KAFKA_BROKERS: 'k:9092', KAFKA_FAILED_TOPIC: 'bad-rows',
    });
    assert.deepEqual(config.admin, { host: '0.0.0.0', port: 9100 });
    assert.equal(config.metricsOnPublicPort, true);
    assert.deepEqual(config.failed, { retentionDays: 30, maxBytes: 1048576 });
    assert.equal(config.kafka?.failedTopic, 'bad-rows');
    assert.equal(loadConfig([], { KAFKA_BROKERS: 'k:9092' }).kafka?.failedTopic, 'failed-events');
  });

  test('env vars', () => {
    const config = loadConfig([], {
      PORT: '9001', HOST: '127.0.0.1', INLET_DATA_DIR: '/tmp/inlet-x', LOG_LEVEL: 'warn', KAFKA_BROKERS: 'k1:9092, k2:9093',
      REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u@h/db', RATE_LIMIT_REQUESTS_PER_MINUTE: '10',
      RATE_LIMIT_EVENTS_PER_MINUTE: '100', MAX_EVENT_BYTES: '4096', MAX_BATCH_EVENTS: '50', MAX_BODY_BYTES: '65536',
      TRUSTED_PROXIES: '10.0.0.0/8, ::1', SINK_TIMEOUT_MS: '2000',
    });
    assert.equal(config.port, 9001);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.dataDir, '/tmp/inlet-x');
    assert.equal(config.logLevel, 'warn');
    assert.deepEqual(config.kafka?.brokers, ['k1:9092', 'k2:9093']);
    assert.equal(config.kafka?.topic, 'raw-events');
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.databaseUrl, 'postgres://u@h/db');
    assert.deepEqual(config.rateLimit, { requestsPerMinute: 10, eventsPerMinute: 100, addressPercent: 10 });
    assert.deepEqual(config.limits, { maxEventBytes: 4096, maxBatchEvents: 50, maxBodyBytes: 65536 });
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '::1']);
    assert.equal(config.sinkTimeoutMs, 2000);
  });

  test('flags, as "--flag value" and "--flag=value"', () => {
    const config = loadConfig(['--port', '9002', '--data-dir=/tmp/inlet-y', '--max-batch-events', '10', '--database-url=postgres://u@h/db?sslmode=require&x=1'], {});
    assert.equal(config.port, 9002);
    assert.equal(config.dataDir, '/tmp/inlet-y');
    assert.equal(config.limits.maxBatchEvents, 10);
    assert.equal(config.databaseUrl, 'postgres://u@h/db?sslmode=require&x=1', 'everything after the first "=" is the value');
  });

  test('the Kafka sink takes zstd, and the bench alone picks its lanes send mode', () => {
    const zstd = loadConfig(['--kafka-compression', 'zstd'], { KAFKA_BROKERS: 'k:9092' });
    assert.equal(zstd.kafka?.compression, 'zstd');
    assert.equal(zstd.kafka?.sendMode, 'pipelined');
    assert.equal(loadConfig([], { KAFKA_BROKERS: 'k:9092', INLET_BENCH_KAFKA_SEND_MODE: 'lanes' }).kafka?.sendMode, 'lanes');
  });

  test('flags win over env vars; an empty env var counts as unset', () => {
    const config = loadConfig(['--port', '9003', '--log-level', 'error'], { PORT: '9000', LOG_LEVEL: 'debug', HOST: '' });
    assert.equal(config.port, 9003);
    assert.equal(config.logLevel, 'error');
    assert.equal(config.host, '0.0.0.0');
  });

  test('a wrong value throws an InvalidSettingError naming the setting', () => {
    fails([], { PORT: 'abc' }, /PORT/);
    fails(['--port', 'abc'], {}, /PORT.*abc/);
    fails([], { PORT: '70000' }, /PORT/);
    fails([], { KAFKA_BROKERS: 'nohost' }, /KAFKA_BROKERS.*nohost/);
    fails([], { KAFKA_BROKERS: 'host:notaport' }, /KAFKA_BROKERS/);
    fails([], { KAFKA_BROKERS: 'k:9092', KAFKA_COMPRESSION: 'brotli' }, /KAFKA_COMPRESSION must be one of lz4, zstd, gzip, snappy, none/);
    fails([], { KAFKA_BROKERS: 'k:9092', KAFKA_TOPIC: 'raw events' }, /KAFKA_TOPIC/);
    fails([], { KAFKA_BROKERS: 'k:9092', INLET_BENCH_KAFKA_SEND_MODE: 'parallel' }, /INLET_BENCH_KAFKA_SEND_MODE/);
    fails([], { LOG_LEVEL: 'loud' }, /LOG_LEVEL/);
    fails([], { REDIS_URL: 'http://x' }, /REDIS_URL/);
    fails([], { DATABASE_URL: 'not a url' }, /DATABASE_URL/);
    fails([], { TRUSTED_PROXIES: 'proxy.example' }, /TRUSTED_PROXIES/);
    fails([], { TRUSTED_PROXIES: '10.0.0.0/40' }, /TRUSTED_PROXIES/);
    fails([], { MAX_BATCH_EVENTS: '0' }, /MAX_BATCH_EVENTS/);
    fails([], { MAX_BODY_BYTES: '1.5' }, /MAX_BODY_BYTES/);
    fails([], { RATE_LIMIT_REQUESTS_PER_MINUTE: '-1' }, /RATE_LIMIT_REQUESTS_PER_MINUTE/);
    fails([], { ADMIN_PORT: 'x' }, /ADMIN_PORT/);
    fails([], { PORT: '9000', ADMIN_PORT: '9000' }, /ADMIN_PORT must differ from PORT/);
    fails([], { METRICS_ON_PUBLIC_PORT: 'yes' }, /METRICS_ON_PUBLIC_PORT/);
    fails([], { FAILED_RETENTION_DAYS: '0' }, /FAILED_RETENTION_DAYS/);
    fails([], { FAILED_MAX_BYTES: '1000' }, /FAILED_MAX_BYTES/);
    fails([], { UNAUTHENTICATED_BURST: '0' }, /UNAUTHENTICATED_BURST/);
    fails(['--unauthenticated-rate', 'fast'], {}, /UNAUTHENTICATED_RATE_PER_SECOND.*fast/);
    fails([], { KAFKA_BROKERS: 'k:9092', KAFKA_TOPIC: 'bad topic!' }, /^KAFKA_TOPIC must be 1-249 characters of letters, digits, '\.', '_' or '-', got "bad topic!"$/);
    fails([], { KAFKA_BROKERS: 'k:9092', KAFKA_LINGER_MS: '5000' }, /^KAFKA_LINGER_MS must be an integer from 0 to 1000, got "5000"$/);
  });

  test('requests without a valid key: 10 a second per client address after a burst of 100, unless set', () => {
    assert.deepEqual(loadConfig([], {}).unauthenticated, { perSecond: 10, burst: 100 });
    assert.deepEqual(loadConfig(['--unauthenticated-burst', '5'], { UNAUTHENTICATED_RATE_PER_SECOND: '2' }).unauthenticated, { perSecond: 2, burst: 5 });
  });

  test('time and memory bounds of the public port: defaults, and each checked with an INLET_INVALID_SETTING naming it', () => {
    const config = loadConfig([], {});
    assert.deepEqual(config.timeouts, { headersMs: 10_000, bodyMs: 30_000, requestMs: 45_000, keepAliveMs: 65_000 });
    assert.deepEqual(config.admission, { maxConnections: 10_000, maxBodyBytesInFlight: 64 * 1024 * 1024 });
    assert.equal(config.shutdownDrainMs, 10_000);
    const set = loadConfig(['--body-timeout-ms', '2000'], { HEADERS_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '4000', KEEP_ALIVE_TIMEOUT_MS: '5000', MAX_CONNECTIONS: '100', MAX_BODY_BYTES_IN_FLIGHT: String(16 * 1024 * 1024), SHUTDOWN_DRAIN_MS: '0' });
    assert.deepEqual(set.timeouts, { headersMs: 2000, bodyMs: 2000, requestMs: 4000, keepAliveMs: 5000 });
    assert.deepEqual(set.admission, { maxConnections: 100, maxBodyBytesInFlight: 16 * 1024 * 1024 });
    assert.equal(set.shutdownDrainMs, 0);
    for (const [name, value] of [['HEADERS_TIMEOUT_MS', '0'], ['BODY_TIMEOUT_MS', 'soon'], ['REQUEST_TIMEOUT_MS', '-5'], ['KEEP_ALIVE_TIMEOUT_MS', '1.5'], ['MAX_CONNECTIONS', '0'], ['MAX_BODY_BYTES_IN_FLIGHT', '10'], ['SHUTDOWN_DRAIN_MS', 'x']]) {
      assert.throws(() => loadConfig([], { [name]: value }), (error: unknown) => error instanceof InvalidSettingError && error.code === 'INLET_INVALID_SETTING' && error.setting === name && error.message.startsWith(name) && !error.message.includes('\n'), name);
    }
    fails([], { HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '4000' }, /REQUEST_TIMEOUT_MS \(4000\) must be at least HEADERS_TIMEOUT_MS/);
    fails([], { MAX_BODY_BYTES_IN_FLIGHT: '100000' }, /MAX_BODY_BYTES_IN_FLIGHT .* must be at least MAX_BODY_BYTES/);
    // On Kafka a refused body is kept as one record (base64 when not UTF-8), which the brokers refuse over 1 MiB: 503s for good.
    fails([], { KAFKA_BROKERS: '127.0.0.1:9092', MAX_BODY_BYTES: '900000' }, /MAX_BODY_BYTES \(900000\) can be at most 662712 with the Kafka sink/);
    assert.equal(loadConfig([], { KAFKA_BROKERS: '127.0.0.1:9092', MAX_BODY_BYTES: '662712' }).limits.maxBodyBytes, 662_712);
    // Each event is one record too, with up to 1 KB the server adds.
    fails([], { KAFKA_BROKERS: '127.0.0.1:9092', MAX_EVENT_BYTES: '1000000' }, /MAX_EVENT_BYTES \(1000000\) can be at most 894880 with the Kafka sink/);
    assert.equal(loadConfig([], { MAX_EVENT_BYTES: '1000000' }).limits.maxEventBytes, 1_000_000, 'the embedded store has no such bound');
    assert.equal(loadConfig([], { MAX_BODY_BYTES: '2000000' }).limits.maxBodyBytes, 2_000_000, 'the embedded store has no such bound');
  });

  test('an unknown flag, or a flag without its value, throws an InvalidSettingError', () => {
    fails(['--bogus', '1'], {}, /--bogus is not an option \(see --help\)/);
    fails(['--prot=8080'], {}, /--prot/);
    fails(['--port'], {}, /--port needs a value/);
    // The flag after is not taken as the value, and the secret after that is never quoted.
    assert.throws(() => loadConfig(['--kafka-sasl-username', '--kafka-sasl-password', 'hunter2'], {}), (error: Error) => /--kafka-sasl-username needs a value/.test(error.message) && !error.message.includes('hunter2'));
  });
});

describe('the README settings table', () => {
  test('says for every setting what serve --help says (env, flag, meaning and default)', async () => {
    const { readFileSync } = await import('node:fs');
    const { SETTINGS } = await import('../src/config.ts');
    const readme = readFileSync(resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    const rows = new Map(readme.split('\n').filter((line) => line.startsWith('| `')).map((line) => {
      const [env, flag, help] = line.split(' | ').map((cell) => cell.replace(/^\| /, '').replace(/ \|$/, ''));
      return [env.replaceAll('`', ''), { flag: flag.replaceAll('`', ''), help }];
    }));
    for (const setting of SETTINGS) {
      const row = rows.get(setting.env);
      assert.ok(row, `README has a row for ${setting.env}`);
      assert.equal(row.flag, setting.flag, setting.env);
      assert.equal(row.help, setting.help, `${setting.env}: README and --help differ`);
    }
  });
});
