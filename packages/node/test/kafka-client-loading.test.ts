// An application that sends over HTTP must not pay for the Kafka client (~50 MB of RSS): the SDK
// loads it on the Kafka transport's first send, and not before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const FIXTURE = resolve(import.meta.dirname, 'fixtures/kafka-client-loading.ts');

test('the Kafka client is loaded on the first Kafka send, never for HTTP', { timeout: 60_000 }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', FIXTURE], { timeout: 50_000 });
  const counts = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  assert.equal(counts.afterHttp, 0, 'HTTP transport loaded no module of @platformatic/kafka');
  assert.equal(counts.afterKafkaConstructed, 0, 'building a Kafka transport loaded none either');
  assert.ok(counts.afterKafkaSend > 0, 'the first Kafka send loaded the client');
});
