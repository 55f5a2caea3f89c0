// End to end on the Kafka path: `inlet topics create`, then events posted over HTTP to a server
// on the Kafka sink come back from the topic with the key, headers and value the API promises.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { needKafka, readAll, startInlet, type TestInlet } from '@inlet/testkit';

const need = await needKafka();
const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

describe('server on the Kafka sink', { skip: need.skip }, () => {
  const brokers = need.value ?? '';
  const topic = `e2e-raw-${process.pid}-${Date.now()}`;
  const failedTopic = `e2e-failed-${process.pid}-${Date.now()}`;
  let inlet: TestInlet;

  before(async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'topics', 'create', '--brokers', brokers, '--topic', topic, '--topic', failedTopic, '--partitions', '3']);
    assert.match(stdout, new RegExp(`topics ready: ${topic}, ${failedTopic}`));
    inlet = await startInlet({ kafka: { brokers: brokers.split(','), topic, failedTopic, clientId: 'e2e', lingerMs: 0, compression: 'lz4' } });
  });
  after(() => inlet?.close());

  test('every accepted event is on the topic with key, headers and normalized value', async () => {
    const batch = Array.from({ length: 60 }, (_, i) => (i % 2
      ? { type: 'track', event: 'Order Completed', userId: `user-${i % 5}`, messageId: `e2e-${i}`, properties: { i } }
      : { type: 'page', anonymousId: `anon-${i}`, messageId: `e2e-${i}`, name: 'Home' }));
    const response = await fetch(`${inlet.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ batch: [...batch, { type: 'track', userId: 'u' }] }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { accepted: 60, rejected: 1, errors: [{ index: 60, errors: ['event is required'] }] });

    const records = await readAll(brokers, topic);
    assert.equal(records.length, 60);
    // The invalid one is on the failed-events topic, keyed by its source, with its reason.
    const failed = await readAll(brokers, failedTopic);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].key, inlet.server.defaultSource!.id);
    assert.equal(failed[0].headers.reason, 'invalid');
    assert.deepEqual(JSON.parse(failed[0].value).errors, ['event is required']);
    assert.deepEqual(JSON.parse(failed[0].value).event, { type: 'track', userId: 'u' });
    const sourceId = inlet.server.defaultSource!.id;
    for (const sent of batch) {
      const record = records.find((r) => r.headers['message-id'] === sent.messageId);
      assert.ok(record, `${sent.messageId} is on the topic`);
      const value = JSON.parse(record.value);
      assert.equal(record.key, sent.userId ?? sent.anonymousId);
      assert.deepEqual(record.headers, { 'source-id': sourceId, 'event-type': sent.type, 'message-id': sent.messageId });
      assert.equal(value.sourceId, sourceId);
      assert.equal(value.context.ip, '127.0.0.1');
      assert.ok(!Number.isNaN(Date.parse(value.receivedAt)));
      if (sent.type === 'page') assert.equal(value.event, 'page_viewed');
      else assert.deepEqual(value.properties, sent.properties);
    }
  });

  test('/health/ready reports the Kafka sink ready', async () => {
    const response = await fetch(`${inlet.url}/health/ready`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { sink: { kind: string } }).sink.kind, 'kafka');
  });
});
