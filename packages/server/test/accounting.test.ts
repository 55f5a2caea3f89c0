// Per source, every event received is stored, failed (by reason) or a duplicate of one already
// stored: received = stored + failed + duplicate, exactly, in the store, in `inlet stats` and in
// the Prometheus counters, and still after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { SourceStats, StatsReport } from '../src/accounting.ts';
import type { FailedView } from '../src/failed/failed-store.ts';
import { adminRequest, basic, postJson, request } from './http-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

interface Expected { received: number; stored: number; duplicate: number; failedByReason: Record<string, number> }

/** A mixed workload from one source; returns what the store must count for it. */
async function workload(inlet: TestInlet, writeKey: string, seed: number): Promise<Expected> {
  const expected: Expected = { received: 0, stored: 0, duplicate: 0, failedByReason: {} };
  const fail = (reason: string, n = 1) => { expected.failedByReason[reason] = (expected.failedByReason[reason] ?? 0) + n; expected.received += n; };
  const ids = Array.from({ length: 60 + seed }, () => randomUUID());
  const valid = (messageId: string) => ({ type: 'track', userId: 'u', event: 'ok', messageId });

  // 1. valid events, with a repeat inside the batch itself
  let reply = await postJson(inlet.url, '/v1/batch', { batch: [...ids.slice(0, 40).map(valid), valid(ids[0])] }, writeKey);
  assert.equal(reply.status, 200, reply.text);
  expected.received += 41; expected.stored += 40; expected.duplicate += 1;

  // 2. a client retry of part of it, mixed with new, invalid and oversize events
  const batch = [
    ...ids.slice(30, 50).map(valid), // 10 repeats, 10 new
    ...Array.from({ length: 7 }, () => ({ type: 'track', userId: 'u' })), // invalid: no event name
    { type: 'nope', userId: 'u' }, // invalid type
    { type: 'track', userId: 'u', event: 'big', properties: { pad: 'x'.repeat(33_000) } }, // too large
  ];
  reply = await postJson(inlet.url, '/v1/batch', { batch }, writeKey);
  assert.equal(reply.status, 200, reply.text);
  expected.received += 20; expected.stored += 10; expected.duplicate += 10;
  fail('invalid', 8); fail('too_large');

  // 3. single-event routes: one valid, one repeat, one invalid
  assert.equal((await postJson(inlet.url, '/v1/track', valid(ids[50]), writeKey)).status, 200);
  assert.equal((await postJson(inlet.url, '/v1/track', valid(ids[50]), writeKey)).status, 200);
  assert.equal((await postJson(inlet.url, '/v1/identify', { traits: {} }, writeKey)).status, 400);
  expected.received += 2; expected.stored += 1; expected.duplicate += 1; fail('invalid');

  // 4. whole bodies refused: malformed JSON, wrong shape, too many events
  const headers = { 'content-type': 'application/json', authorization: basic(writeKey) };
  assert.equal((await request(inlet.url, '/v1/batch', { body: '{"batch":[{', headers })).status, 400);
  assert.equal((await request(inlet.url, '/v1/batch', { body: '{"batch":{}}', headers })).status, 400);
  fail('malformed_body', 2);
  assert.equal((await postJson(inlet.url, '/v1/batch', { batch: Array.from({ length: 1001 }, () => valid(randomUUID())) }, writeKey)).status, 413);
  fail('too_large');

  // 5. more valid events from the rest of the ids, seed-dependent so the sources differ
  reply = await postJson(inlet.url, '/v1/batch', { batch: ids.slice(51).map(valid) }, writeKey);
  expected.received += ids.length - 51; expected.stored += ids.length - 51;
  return expected;
}

function check(stats: SourceStats | undefined, expected: Expected, where: string): void {
  assert.ok(stats, `${where}: the source has counts`);
  const failed = Object.values(expected.failedByReason).reduce((a, b) => a + b, 0);
  assert.deepEqual(
    { received: stats.received, stored: stats.stored, duplicate: stats.duplicate, failed: stats.failed, failedByReason: stats.failedByReason },
    { received: expected.received, stored: expected.stored, duplicate: expected.duplicate, failed, failedByReason: expected.failedByReason },
    where,
  );
  assert.equal(stats.received, stats.stored + stats.failed + stats.duplicate, `${where}: received = stored + failed + duplicate`);
}

async function apiStats(inlet: TestInlet, token: string): Promise<StatsReport> {
  const reply = await adminRequest(inlet.adminUrl, token, '/api/stats?since=1h&series=true');
  assert.equal(reply.status, 200, reply.text);
  return reply.json as unknown as StatsReport;
}

test('received = stored + failed + duplicate, per source, exactly: in the store, the stats API, inlet stats and Prometheus, and after a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-accounting-'));
  try {
    let inlet = await startInlet({ dataDir });
    const token = inlet.adminToken!;
    const a = inlet.server.defaultSource!;
    const b = await inlet.server.sources.create({ name: 'second' });
    const expectedA = await workload(inlet, inlet.writeKey, 0);
    const expectedB = await workload(inlet, b.writeKey, 7);

    const report = await apiStats(inlet, token);
    assert.equal(report.scope, 'store');
    check(report.sources.find((s) => s.sourceId === a.id), expectedA, 'stats API, source a');
    check(report.sources.find((s) => s.sourceId === b.id), expectedB, 'stats API, source b');
    const perMinute = report.minutes!.reduce((n, m) => n + m.stored + m.duplicate + m.failed, 0);
    assert.equal(perMinute, expectedA.received + expectedB.received, 'the per-minute series adds up to the same');

    // What is in the store agrees with the counts.
    const stored = await inlet.events();
    assert.equal(stored.filter((r) => r.sourceId === a.id).length, expectedA.stored);
    assert.equal(stored.filter((r) => r.sourceId === b.id).length, expectedB.stored);
    const entries = (await adminRequest(inlet.adminUrl, token, `/api/failed?source=${a.id}&limit=1000`)).json!.failed as FailedView[];
    const byReason: Record<string, number> = {};
    for (const e of entries) byReason[e.reason] = (byReason[e.reason] ?? 0) + 1;
    assert.deepEqual(byReason, expectedA.failedByReason);

    // Prometheus: the same counts, labelled by source and outcome.
    const metrics = (await adminRequest(inlet.adminUrl, token, '/metrics')).text;
    const counter = (sourceId: string, outcome: string, reason = '') =>
      Number(new RegExp(`^inlet_events_total\\{source_id="${sourceId}",outcome="${outcome}",reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.equal(counter(a.id, 'stored'), expectedA.stored);
    assert.equal(counter(a.id, 'duplicate'), expectedA.duplicate);
    for (const [reason, n] of Object.entries(expectedA.failedByReason)) assert.equal(counter(a.id, 'failed', reason), n, reason);

    // `inlet stats --json`, from the store, beside the running server.
    const run = await promisify(execFile)(process.execPath, [BIN, 'stats', '--json', '--since', '2h', '--source', b.id], { env: { ...process.env, INLET_DATA_DIR: dataDir, KAFKA_BROKERS: '', DATABASE_URL: '' } });
    const cli = JSON.parse(run.stdout) as StatsReport;
    assert.equal(cli.sources.length, 1);
    check(cli.sources[0], expectedB, 'inlet stats --source b');
    const table = await promisify(execFile)(process.execPath, [BIN, 'stats'], { env: { ...process.env, INLET_DATA_DIR: dataDir, KAFKA_BROKERS: '', DATABASE_URL: '' } });
    assert.match(table.stdout, new RegExp(`${a.id} \\(default\\)\\s+${expectedA.received}\\s+${expectedA.stored}\\s+${expectedA.duplicate}\\s+`));

    // The counts live in the store: a restarted server reports the same.
    await inlet.close();
    inlet = await startInlet({ dataDir });
    const again = await apiStats(inlet, token);
    check(again.sources.find((s) => s.sourceId === a.id), expectedA, 'after a restart, source a');
    await inlet.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
