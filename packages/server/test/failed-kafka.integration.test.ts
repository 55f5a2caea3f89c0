// Failed events and accounting on the Kafka sink: failed events go to their own topic (key = the
// source, headers with the reason) in the same produce request as the accepted ones, and the
// per-source counts come from the server over its admin API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createTopic, needKafka, produceRecords, readAll, startInlet, type TestInlet } from '@inlet/testkit';
import type { StatsReport } from '../src/accounting.ts';
import { MAX_KAFKA_BODY_BYTES } from '../src/config.ts';
import type { FailedEvent } from '../src/failed/failed-event.ts';
import type { FailedView, ReplaySummary } from '../src/failed/failed-store.ts';
import type { NormalizedRecord } from '@inlet/schema';
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

  test('at the largest body Kafka allows, uncompressed: a refused body that is not UTF-8 is kept whole, and a batch that outgrows 1 MiB as records is stored', async () => {
    const ownTopic = `failed-test-large-${randomUUID()}`;
    const ownFailed = `failed-test-large-failed-${randomUUID()}`;
    await createTopic(brokers, ownTopic, { partitions: 1, replicationFactor: 1 });
    await createTopic(brokers, ownFailed, { partitions: 1, replicationFactor: 1 });
    const large = await startInlet({
      kafka: { brokers, topic: ownTopic, failedTopic: ownFailed, clientId: 'failed-test-large', lingerMs: 0, compression: 'none' },
      limits: { maxEventBytes: 32 * 1024, maxBatchEvents: 5000, maxBodyBytes: MAX_KAFKA_BODY_BYTES },
    });
    try {
      // Bytes that are not UTF-8 are kept as base64: 4/3 of the body.
      const binary = Buffer.alloc(MAX_KAFKA_BODY_BYTES, 0xff);
      const refused = await request(large.url, '/v1/batch', { body: binary, headers: { 'content-type': 'application/json', authorization: basic(large.writeKey) } });
      assert.equal(refused.status, 400, refused.text);
      const [kept] = await readAll(brokers, ownFailed);
      const entry = JSON.parse(kept.value) as FailedEvent;
      assert.deepEqual([entry.reason, entry.raw?.encoding, entry.raw?.bytes, entry.raw?.truncated], ['malformed_body', 'base64', MAX_KAFKA_BODY_BYTES, false]);
      assert.ok(Buffer.byteLength(kept.value) > 850_000);

      // ~590 KB of body; with the fields the server adds (~140 bytes an event), ~1.2 MB of records for one partition.
      const batch = Array.from({ length: 5000 }, (_, i) => ({ type: 'track', userId: 'one-user', event: 'e', messageId: `large-${i}`, properties: { text: 'x'.repeat(20) } }));
      const accepted = await postJson(large.url, '/v1/batch', { batch }, large.writeKey);
      assert.equal(accepted.status, 200, accepted.text);
      const stored = await readAll(brokers, ownTopic);
      assert.equal(stored.length, 5000);
      assert.ok(stored.reduce((n, r) => n + Buffer.byteLength(r.value), 0) > 1024 * 1024);
      assert.equal((await request(large.url, '/health/ready', { method: 'GET' })).status, 200, 'the instance stays ready');
    } finally {
      await large.close();
    }
  });

  test('an event that outgrows a Kafka record once written back (1e20 is 21 digits) is kept cut short, its valid neighbour stored: 200, not a 500', async () => {
    const ok = { type: 'track', userId: 'u', event: 'neighbour', messageId: randomUUID() };
    const numbers = `{"type":"track","userId":"u","event":"numbers","properties":{"a":[${Array(45_000).fill('1e20').join(',')}]}}`;
    const body = `{"batch":[${numbers},${JSON.stringify(ok)}]}`;
    const reply = await request(inlet.url, '/v1/batch', { body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual([reply.json?.accepted, reply.json?.rejected], [1, 1]);
    assert.ok((await readAll(brokers, topic)).some((r) => r.headers['message-id'] === ok.messageId));
    const kept = (await readAll(brokers, failedTopic)).map((r) => JSON.parse(r.value) as FailedEvent).find((e) => e.reason === 'too_large' && e.raw?.truncated);
    assert.ok(kept, 'the event is kept, cut short');
    assert.equal(kept.event, undefined);
  });

  test('inlet stats on Kafka without a token, or with no server, says what is missing', async () => {
    const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), INLET_ADMIN_TOKEN: '' };
    await assert.rejects(promisify(execFile)(process.execPath, [BIN, 'stats'], { env }), (error: { stderr: string; code: number }) => /--admin-token/.test(error.stderr) && error.code === 2);
    await assert.rejects(promisify(execFile)(process.execPath, [BIN, 'stats', '--admin-url', 'http://127.0.0.1:9', '--admin-token', 'x'], { env }), (error: { stderr: string }) => /cannot reach the admin API/.test(error.stderr));
  });
});

describe('replay on Kafka', { skip: need.skip }, () => {
  const brokers = (need.value ?? '').split(',');
  const topic = `replay-raw-${randomUUID()}`;
  const failedTopic = `replay-failed-${randomUUID()}`;
  const kafka = { brokers, topic, failedTopic, clientId: 'replay-test', lingerMs: 0, compression: 'lz4' as const };
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC: topic, KAFKA_FAILED_TOPIC: failedTopic, MAX_EVENT_BYTES: '', INLET_DATA_DIR: '' };
  const cli = async (args: string[]) => (await promisify(execFile)(process.execPath, [BIN, ...args], { env, maxBuffer: 64 << 20 })).stdout;
  const padded = (messageId: string | undefined, bytes: number) => ({ type: 'track', userId: 'u', event: 'Padded', ...(messageId ? { messageId } : {}), properties: { pad: 'x'.repeat(bytes) } });
  const ids = [randomUUID(), randomUUID()];

  before(async () => {
    await createTopic(brokers, topic, { partitions: 2, replicationFactor: 1 });
    await createTopic(brokers, failedTopic, { partitions: 2, replicationFactor: 1 });
    const small = await startInlet({ kafka, limits: { maxEventBytes: 600, maxBatchEvents: 1000, maxBodyBytes: 512_000 } });
    try {
      const reply = await postJson(small.url, '/v1/batch', { batch: [padded(ids[0], 700), padded(ids[1], 700), padded(undefined, 700), { type: 'track', userId: 'u' }] }, small.writeKey);
      assert.deepEqual([reply.json?.accepted, reply.json?.rejected], [0, 4]);
    } finally {
      await small.close();
    }
  });

  test('what passes goes to raw-events with its original messageId and receivedAt, marked; a second replay stores nothing; list and show follow', async () => {
    const listed = (await cli(['failed', 'list', '--json'])).trim().split('\n').map((l) => JSON.parse(l) as FailedView);
    assert.equal(listed.length, 4);
    assert.ok(listed[0].id > listed[3].id, 'newest first');
    assert.deepEqual(JSON.parse(await cli(['failed', 'replay', '--dry-run', '--json'])), { dryRun: true, matched: 4, passed: 3, stored: 0, duplicates: 0, stillFailing: 1 });
    assert.equal((await readAll(brokers, topic)).length, 0, 'a dry run writes nothing');

    const summary = JSON.parse((await cli(['failed', 'replay', '--json'])).trim().split('\n').pop()!) as ReplaySummary;
    assert.deepEqual(summary, { dryRun: false, matched: 4, passed: 3, stored: 3, duplicates: 0, stillFailing: 1 });
    const raw = await readAll(brokers, topic);
    assert.equal(raw.length, 3);
    for (const entry of listed.filter((e) => e.reason === 'too_large')) {
      const record = raw.find((r) => r.headers['message-id'] === entry.messageId);
      assert.ok(record, `${entry.messageId} is on raw-events`);
      const value = JSON.parse(record.value) as NormalizedRecord;
      assert.equal(record.key, 'u');
      assert.equal(value.receivedAt, entry.receivedAt);
      assert.deepEqual(value.context.inlet, { replayed: entry.id });
    }
    assert.ok(ids.every((id) => raw.some((r) => r.headers['message-id'] === id)));

    assert.deepEqual(JSON.parse(await cli(['failed', 'replay', '--json'])), { dryRun: false, matched: 1, passed: 0, stored: 0, duplicates: 0, stillFailing: 1 });
    assert.equal((await readAll(brokers, topic)).length, 3, 'replaying again stores nothing twice');
    const left = (await cli(['failed', 'list', '--json'])).trim().split('\n').map((l) => JSON.parse(l) as FailedView);
    assert.deepEqual(left.map((e) => e.reason), ['invalid']);
    const replayed = (await cli(['failed', 'list', '--json', '--status', 'replayed'])).trim().split('\n').map((l) => JSON.parse(l) as FailedView);
    assert.equal(replayed.length, 3);
    assert.ok(replayed.every((e) => e.status === 'replayed' && e.replayedAt));
    const shown = JSON.parse(await cli(['failed', 'show', replayed[0].id])) as FailedView;
    assert.deepEqual(shown, replayed[0]);
    // --since reads from that time on (the records' timestamps); a later time finds nothing.
    assert.equal((await cli(['failed', 'list', '--json', '--status', 'all', '--since', '1h'])).trim().split('\n').length, 4);
    assert.equal((await cli(['failed', 'list', '--json', '--status', 'all', '--since', new Date(Date.now() + 3_600_000).toISOString()])).trim(), '');
  });

  test('the admin API of a server on Kafka lists, shows and replays the same entries, past a record that is not one', async () => {
    // Another producer's record on the topic: skipped, not a 500 for every list (with its bytes in the log).
    await produceRecords(brokers, failedTopic, [{ value: 'not json at all' }, { value: '[1,2]', headers: { 'inlet-marker': 'replayed', 'failed-id': 'x' } }]);
    const inlet = await startInlet({ kafka });
    try {
      const page = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed?status=all&limit=2');
      const { failed: entries, next } = page.json as { failed: FailedView[]; next: string };
      assert.equal(entries.length, 2);
      assert.ok(next);
      const rest = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed?status=all&limit=10&before=${next}`);
      assert.equal((rest.json as { failed: FailedView[] }).failed.length, 2);
      const shown = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/failed/${entries[0].id}`);
      assert.deepEqual(shown.json, entries[0] as unknown as Record<string, unknown>);
      const replay = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed/replay', { method: 'POST', body: { dryRun: true } });
      assert.equal((replay.json as unknown as ReplaySummary).matched, 1);
    } finally {
      await inlet.close();
    }
  });
});

test('an event refused twice (its client resent it) is replayed once on Kafka, in one run or across runs', { skip: need.skip }, async () => {
  const brokers = (need.value ?? '').split(',');
  const topic = `replay-twice-raw-${randomUUID()}`;
  const failedTopic = `replay-twice-failed-${randomUUID()}`;
  await createTopic(brokers, topic, { partitions: 2, replicationFactor: 1 });
  await createTopic(brokers, failedTopic, { partitions: 2, replicationFactor: 1 });
  const kafka = { brokers, topic, failedTopic, clientId: 'replay-twice-test', lingerMs: 0, compression: 'lz4' as const };
  const event = { type: 'track', userId: 'u', event: 'Padded', messageId: `twice-${randomUUID()}`, properties: { pad: 'x'.repeat(700) } };
  // One data directory: every server here has the same sources, as instances sharing them do.
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-replay-twice-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  let token = '';
  const refuse = async (times: number) => {
    const small = await startInlet({ dataDir, kafka, limits: { maxEventBytes: 600, maxBatchEvents: 1000, maxBodyBytes: 512_000 } });
    token ||= small.adminToken!; // shown by the first start only
    try {
      for (let i = 0; i < times; i++) assert.equal((await postJson(small.url, '/v1/batch', { batch: [event] }, small.writeKey)).json?.rejected, 1);
    } finally {
      await small.close();
    }
  };
  const replay = async (path = '/api/failed/replay') => {
    const inlet = await startInlet({ dataDir, kafka });
    try {
      return (await adminRequest(inlet.adminUrl, token, path, { method: 'POST', body: {} })).json as unknown as ReplaySummary;
    } finally {
      await inlet.close();
    }
  };
  const copies = async () => (await readAll(brokers, topic)).filter((r) => r.headers['message-id'] === event.messageId).length;
  await refuse(2);
  // The later entry first, by its id (as the console replays one), then the rest.
  const listed = await (async () => {
    const inlet = await startInlet({ dataDir, kafka });
    try {
      return ((await adminRequest(inlet.adminUrl, token, '/api/failed')).json as { failed: FailedView[] }).failed;
    } finally {
      await inlet.close();
    }
  })();
  assert.equal(listed.length, 2);
  const byId = await replay(`/api/failed/${listed[0].id}/replay`);
  assert.deepEqual([byId.matched, byId.stored], [1, 1], JSON.stringify(byId));
  const first = await replay();
  assert.deepEqual([first.matched, first.stored, first.duplicates], [1, 0, 1], JSON.stringify(first));
  assert.equal(await copies(), 1, 'one copy on raw-events: the processor would not catch a second, its time is outside the window');
  await refuse(1);
  const second = await replay();
  assert.deepEqual([second.matched, second.stored, second.duplicates], [1, 0, 1], JSON.stringify(second));
  assert.equal(await copies(), 1);
});

test('a replay on Kafka killed with SIGKILL half way finishes on the next run, without duplicates', { skip: need.skip, timeout: 240_000 }, async () => {
  const brokers = (need.value ?? '').split(',');
  const topic = `replay-kill-raw-${randomUUID()}`;
  const failedTopic = `replay-kill-failed-${randomUUID()}`;
  await createTopic(brokers, topic, { partitions: 3, replicationFactor: 1 });
  await createTopic(brokers, failedTopic, { partitions: 3, replicationFactor: 1 });
  const total = 6000;
  const inlet = await startInlet({ kafka: { brokers, topic, failedTopic, clientId: 'replay-kill', lingerMs: 0, compression: 'lz4' }, limits: { maxEventBytes: 300, maxBatchEvents: 1000, maxBodyBytes: 512_000 } });
  try {
    for (let b = 0; b < total / 1000; b++) {
      const reply = await postJson(inlet.url, '/v1/batch', { batch: Array.from({ length: 1000 }, (_, i) => ({ type: 'track', userId: `u-${i % 7}`, event: 'k', messageId: `k-${b}-${i}`, properties: { pad: 'x'.repeat(260) } })) }, inlet.writeKey);
      assert.equal(reply.json?.rejected, 1000);
    }
  } finally {
    await inlet.close();
  }
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC: topic, KAFKA_FAILED_TOPIC: failedTopic, MAX_EVENT_BYTES: '' };
  const child = spawn(process.execPath, [BIN, 'failed', 'replay'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)));
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => { if (/checked \d+/.test(chunk.toString())) done(); });
    child.once('exit', () => fail(new Error('the replay ended before it reported progress')));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const half = (await readAll(brokers, topic)).length;
  assert.ok(half > 0 && half < total, `the kill landed half way (${half} of ${total} on raw-events)`);

  const rerun = JSON.parse((await promisify(execFile)(process.execPath, [BIN, 'failed', 'replay', '--json'], { env, maxBuffer: 64 << 20 })).stdout) as ReplaySummary;
  assert.equal(rerun.stored, total - half);
  const ids = (await readAll(brokers, topic)).map((r) => r.headers['message-id']);
  assert.equal(ids.length, total);
  assert.equal(new Set(ids).size, total, 'no event twice');
});
