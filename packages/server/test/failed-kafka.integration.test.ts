// Failed events and accounting on the Kafka sink: failed events go to their own topic (key = the
// source, headers with the reason) in the same produce request as the accepted ones, and the
// per-source counts come from the server over its admin API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createTopic, needKafka, readAll, startInlet, type TestInlet } from '@inlet/testkit';
import type { StatsReport } from '../src/accounting.ts';
import type { FailedEvent } from '../src/failed/failed-event.ts';
import { adminRequest, basic, postJson, request } from './http-client.ts';

const need = await needKafka();
const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

describe('failed events on the Kafka sink', { skip: need.skip }, () => {
  const brokers = (need.value ?? '').split(',');
  const topic = `failed-test-raw-${randomUUID()}`;
  const failedTopic = `failed-test-failed-${randomUUID()}`;
  let inlet: TestInlet;

  before(async () => {
    await createTopic(brokers, topic, { partitions: 2, replicationFactor: 1 });
    await createTopic(brokers, failedTopic, { partitions: 2, replicationFactor: 1 });
    inlet = await startInlet({ kafka: { brokers, topic, failedTopic, clientId: 'failed-test', lingerMs: 0, compression: 'lz4' } });
  });
  after(() => inlet?.close());

  test('failed events and bodies go to the failed-events topic keyed by source, with the reason in the headers; the identity holds in the stats', async () => {
    const sourceId = inlet.server.defaultSource!.id;
    const ok = (messageId: string) => ({ type: 'track', userId: 'u', event: 'ok', messageId });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    let reply = await postJson(inlet.url, '/v1/batch', { batch: [...ids.map(ok), { type: 'track', userId: 'u' }, { type: 'track', userId: 'u', event: 'big', properties: { pad: 'x'.repeat(40_000) } }] }, inlet.writeKey);
    assert.deepEqual([reply.status, reply.json?.accepted, reply.json?.rejected], [200, 3, 2]);
    reply = await request(inlet.url, '/v1/batch', { body: '{"batch":[', headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });
    assert.equal(reply.status, 400);

    const failed = await readAll(brokers, failedTopic);
    assert.equal(failed.length, 3);
    const entries = failed.map((r) => ({ record: r, entry: JSON.parse(r.value) as FailedEvent }));
    for (const { record, entry } of entries) {
      assert.equal(record.key, sourceId);
      assert.equal(record.headers['source-id'], sourceId);
      assert.equal(record.headers.reason, entry.reason);
      assert.equal(record.headers['failed-id'], entry.id);
    }
    assert.deepEqual(entries.map((e) => e.entry.reason).sort(), ['invalid', 'malformed_body', 'too_large']);
    assert.equal((await readAll(brokers, topic)).length, 3);

    // No store to count in: the server counts, since it started, and says so.
    const stats = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/stats');
    const report = stats.json as unknown as StatsReport;
    assert.equal(report.scope, 'process');
    const mine = report.sources.find((s) => s.sourceId === sourceId)!;
    assert.deepEqual({ received: mine.received, stored: mine.stored, duplicate: mine.duplicate, failed: mine.failed, byReason: mine.failedByReason },
      { received: 6, stored: 3, duplicate: 0, failed: 3, byReason: { invalid: 1, too_large: 1, malformed_body: 1 } });

    // `inlet stats` on Kafka asks the server.
    const adminPort = new URL(inlet.adminUrl).port;
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'stats', '--json'], {
      env: { ...process.env, KAFKA_BROKERS: brokers.join(','), ADMIN_PORT: adminPort, INLET_ADMIN_TOKEN: inlet.adminToken!, INLET_DATA_DIR: inlet.dataDir },
    });
    assert.deepEqual((JSON.parse(stdout) as StatsReport).sources, report.sources);
  });

  test('inlet stats on Kafka without a token, or with no server, says what is missing', async () => {
    const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), INLET_ADMIN_TOKEN: '' };
    await assert.rejects(promisify(execFile)(process.execPath, [BIN, 'stats'], { env }), (error: { stderr: string; code: number }) => /--admin-token/.test(error.stderr) && error.code === 2);
    await assert.rejects(promisify(execFile)(process.execPath, [BIN, 'stats', '--admin-url', 'http://127.0.0.1:9', '--admin-token', 'x'], { env }), (error: { stderr: string }) => /cannot reach the admin API/.test(error.stderr));
  });
});
