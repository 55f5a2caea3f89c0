// The rules every Inlet program applies to Kafka settings, and the record layout, without a broker.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NormalizedRecord } from '@inlet/schema';
import { INVALID_SETTING, InvalidSettingError, checkSetting } from '@inlet/schema/settings';
import { brokerList, changelogTopic, compression, topicName, toKafkaMessage, toKafkaRecord } from '../src/contract.ts';

const parseBrokers = (value: unknown) => checkSetting('KAFKA_BROKERS', brokerList, value);
import { createIdempotentProducer, forceClose, KafkaWriter } from '../src/index.ts';

describe('the broker-address rule', () => {
  test('lists and comma-separated strings, trimmed, empty entries dropped; IPv6 in brackets', () => {
    assert.deepEqual(parseBrokers(' k1:9092, k2:9093 ,'), ['k1:9092', 'k2:9093']);
    assert.deepEqual(parseBrokers(['10.0.0.1:9092', '[::1]:19092', 'kafka-0.kafka.svc:9092']), ['10.0.0.1:9092', '[::1]:19092', 'kafka-0.kafka.svc:9092']);
  });

  test('a missing port, a port out of range, a bare IPv6 address or no broker at all is refused, naming the setting and the entry', () => {
    for (const [value, pattern] of [
      [undefined, /KAFKA_BROKERS is required/],
      [' , ', /KAFKA_BROKERS must be host:port entries, as a list or a comma-separated string, got " , "/],
      ['nohost', /KAFKA_BROKERS entry "nohost" is not host:port/],
      ['k:0', /"k:0" is not host:port/],
      ['k:65536', /"k:65536"/],
      ['::1:9092', /"::1:9092"/],
      ['k 1:9092', /"k 1:9092"/],
      [42, /KAFKA_BROKERS must be host:port entries/],
    ] as const) {
      assert.throws(() => parseBrokers(value), (error: Error) => error instanceof InvalidSettingError && error.code === INVALID_SETTING && error.setting === 'KAFKA_BROKERS' && pattern.test(error.message), String(value));
    }
  });
});

describe('the topic-name rule', () => {
  test("Kafka's: 1-249 of letters, digits, '.', '_', '-', and not '.' or '..'", () => {
    const checkTopicName = (value: unknown) => checkSetting('KAFKA_TOPIC', topicName, value);
    assert.equal(checkTopicName('raw-events'), 'raw-events');
    assert.equal(checkTopicName('a.b_c-D9'), 'a.b_c-D9');
    assert.equal(checkTopicName('x'.repeat(249)), 'x'.repeat(249));
    for (const bad of ['', '.', '..', 'a b', 'a/b', 'x'.repeat(250), 7]) assert.throws(() => checkTopicName(bad), /KAFKA_TOPIC must be 1-249 characters/);
  });

  test("a processor group's changelog topic is named after the group", () => {
    assert.equal(changelogTopic('inlet-processor'), 'inlet-processor-dedup-changelog');
  });
});

describe('the record contract', () => {
  const base = { type: 'track', sourceId: 'src_1', messageId: 'm1', receivedAt: '2026-03-01T10:00:00.000Z', timestamp: '2026-03-01T10:00:00.000Z' } as NormalizedRecord;

  test('key userId, else anonymousId; headers source-id, event-type, message-id; value the JSON', () => {
    const record = { ...base, userId: 'u1', anonymousId: 'a1' } as NormalizedRecord;
    assert.deepEqual(toKafkaRecord(record), { key: 'u1', value: JSON.stringify(record), headers: { 'source-id': 'src_1', 'event-type': 'track', 'message-id': 'm1' } });
    assert.equal(toKafkaRecord({ ...base, userId: null, anonymousId: 'a1' } as NormalizedRecord).key, 'a1');
    assert.equal(toKafkaRecord(record, '{"as":"given"}').value, '{"as":"given"}');
  });

  test('the message form (headers as a Map, as the sink sends it) lays a record out the same way', () => {
    for (const record of [{ ...base, userId: 'u1', anonymousId: 'a1' }, { ...base, anonymousId: 'a1' }] as NormalizedRecord[]) {
      const message = toKafkaMessage(record, '{"as":"given"}');
      const expected = toKafkaRecord(record, '{"as":"given"}');
      assert.deepEqual({ ...message, headers: Object.fromEntries(message.headers) }, expected);
    }
  });
});

describe('client options are checked before anything connects', () => {
  const ok = { brokers: '127.0.0.1:9092', clientId: 'test', retries: 3 };

  test('compressions: lz4, zstd, gzip, snappy, none', () => {
    for (const c of ['lz4', 'zstd', 'gzip', 'snappy', 'none']) assert.equal(checkSetting('KAFKA_COMPRESSION', compression, c), c);
    assert.throws(() => checkSetting('KAFKA_COMPRESSION', compression, 'brotli'), /KAFKA_COMPRESSION must be one of lz4, zstd, gzip, snappy, none/);
  });

  test('an idempotent producer needs a retry bound of 2 or more (the client reads less as "forever")', async () => {
    assert.throws(() => createIdempotentProducer({ ...ok, retries: undefined }), /retries must be given/);
    assert.throws(() => createIdempotentProducer({ ...ok, retries: 1 }), /retries must be an integer from 2/);
    await forceClose(createIdempotentProducer(ok));
  });

  test('bad brokers, client ids, timeouts and writer modes throw an InvalidSettingError', () => {
    assert.throws(() => new KafkaWriter({ ...ok, brokers: 'nohost' }), InvalidSettingError);
    assert.throws(() => new KafkaWriter({ ...ok, clientId: 'has space' }), /clientId/);
    assert.throws(() => new KafkaWriter({ ...ok, requestTimeoutMs: 0 }), /requestTimeoutMs/);
    assert.throws(() => new KafkaWriter({ ...ok, mode: 'parallel' as never }), /mode must be one of pipelined, lanes/);
  });

  test('the writer says how many sends it takes at once', async () => {
    const pipelined = new KafkaWriter(ok);
    const lanes = new KafkaWriter({ ...ok, mode: 'lanes' });
    assert.equal(pipelined.maxInFlight, 2);
    assert.equal(lanes.maxInFlight, 3);
    await Promise.all([pipelined.close(), lanes.close()]);
    await assert.rejects(pipelined.send([]), /closed/);
  });
});
