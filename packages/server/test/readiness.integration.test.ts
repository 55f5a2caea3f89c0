// /health/ready is true only when a write would succeed now. Embedded: the disk has room (a real
// tmpfs filled up, root only) and the writer's last outcome was a commit. Kafka: learned from the
// sink's own sends, and from a probe that every partition has min.insync.replicas in sync; the
// three-node case (two nodes down) is in kafka-failover.integration.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopic, needKafka, needRoot, startInlet, type TestInlet } from '@inlet/testkit';
import { MIN_FREE_BYTES } from '../src/sinks/embedded-sink.ts';
import { SinkUnavailableError } from '../src/errors.ts';
import { KafkaSink } from '../src/sinks/kafka-sink.ts';
import { storedEvent } from './kafka-fixtures.ts';
import { postJson, request } from './http-client.ts';

const MB = 1024 * 1024;
const root = await needRoot('a tmpfs for the data directory');
const kafka = await needKafka();
const quiet = { info() {}, warn() {}, error() {} };

const free = (dir: string) => { const s = statfsSync(dir); return s.bavail * s.bsize; };
const ready = async (inlet: TestInlet) => (await request(inlet.url, '/health/ready', { method: 'GET' })).status;

describe('readiness of the embedded store on a disk that fills up', { skip: root.skip }, () => {
  let disk: string;
  let inlet: TestInlet;
  const ballast = () => join(disk, 'ballast');
  before(async () => {
    disk = mkdtempSync(join(tmpdir(), 'inlet-ready-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${40 * MB},mode=0700`, 'tmpfs', disk]);
    inlet = await startInlet({ dataDir: join(disk, 'data'), sinkTimeoutMs: 2000 });
  });
  after(async () => {
    await inlet?.close();
    execFileSync('umount', ['-l', disk]);
    rmdirSync(disk);
  });

  test('ready with room; not ready once free space is under the threshold, though writes still succeed; ready again when there is room', async () => {
    assert.equal(await ready(inlet), 200);
    writeFileSync(ballast(), Buffer.alloc(free(disk) - (MIN_FREE_BYTES - 4 * MB)));
    assert.equal(await ready(inlet), 503);
    const reply = await request(inlet.url, '/health/ready', { method: 'GET' });
    assert.equal((reply.json as { sink: { ready: boolean } }).sink.ready, false);
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'still fits' }, inlet.writeKey)).status, 200);
    rmSync(ballast());
    assert.equal(await ready(inlet), 200);
  });

  test('a full disk: writes get 503 and readiness says 503; once room is made and a write lands, ready again', async () => {
    writeFileSync(ballast(), Buffer.alloc(Math.max(0, free(disk) - 256 * 1024)));
    const padding = 'x'.repeat(20_000);
    let status = 200;
    for (let i = 0; i < 200 && status === 200; i++) {
      status = (await postJson(inlet.url, '/v1/batch', { batch: Array.from({ length: 10 }, () => ({ type: 'track', userId: 'u', event: 'fill', properties: { padding } })) }, inlet.writeKey)).status;
    }
    assert.equal(status, 503, 'the disk filled up');
    assert.equal(await ready(inlet), 503);
    rmSync(ballast());
    assert.ok(free(disk) >= MIN_FREE_BYTES);
    assert.equal((await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'room again' }, inlet.writeKey)).status, 200);
    assert.equal(await ready(inlet), 200);
  });
});

describe('readiness of the Kafka sink', { skip: kafka.skip }, () => {
  const brokers = kafka.value?.split(',') ?? [];
  const stamp = `${process.pid}-${Date.now()}`;
  const sinks: KafkaSink[] = [];
  const sink = (topic: string) => { const s = new KafkaSink({ brokers, topic, writeTimeoutMs: 3000, logger: quiet }); sinks.push(s); return s; };
  after(async () => { await Promise.all(sinks.map((s) => s.close())); });

  test('a topic whose partitions have min.insync.replicas in sync is ready', async () => {
    const topic = `inlet-ready-ok-${stamp}`;
    await createTopic(brokers, topic, { partitions: 2, replicationFactor: 1, minInsyncReplicas: 1 });
    const s = sink(topic);
    assert.equal(await s.ready(), true);
    await s.write([storedEvent(1)]);
    assert.equal(await s.ready(), true);
  });

  test('a failed send makes it not ready at once, even while a probe would pass; a send that succeeds makes it ready again', async () => {
    // Sends to a topic that is not there fail as sends to a partition without its quorum do.
    const gone = sink(`inlet-ready-missing-${stamp}`);
    await assert.rejects(gone.write([storedEvent(2)]), SinkUnavailableError);
    assert.equal(await gone.ready(), false);
    await createTopic(brokers, `inlet-ready-missing-${stamp}`, { partitions: 1, replicationFactor: 1 });
    assert.equal(await gone.ready(), false, 'held for a write timeout after the failure, whatever a probe says');
    await gone.write([storedEvent(3)]);
    assert.equal(await gone.ready(), true, 'a send that succeeds ends it');
  });
});
