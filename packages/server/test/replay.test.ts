// Replaying failed events (embedded store): what passes today's checks is stored as it would have
// been when it arrived (messageId, receivedAt, client address), marked context.inlet.replayed;
// what still fails stays with today's reasons; nothing is ever stored twice, even when a replay
// is killed half way and run again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import { databaseFile } from '../src/db/database.ts';
import type { FailedView, ReplaySummary } from '../src/failed/failed-store.ts';
import { adminRequest, postJson } from './http-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');
const run = promisify(execFile);

function cli(args: string[], dataDir: string, env: Record<string, string> = {}) {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, INLET_DATA_DIR: dataDir, KAFKA_BROKERS: '', DATABASE_URL: '', MAX_EVENT_BYTES: '', MAX_BATCH_EVENTS: '', ...env }, maxBuffer: 64 << 20 });
}

const padded = (messageId: string | undefined, bytes: number) => ({ type: 'track', userId: 'u', event: 'Padded', ...(messageId ? { messageId } : {}), properties: { pad: 'x'.repeat(bytes) } });

describe('replay on the embedded store', () => {
  let dataDir: string;
  let inlet: TestInlet;
  let token: string;
  const ids = [randomUUID(), randomUUID()];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'inlet-replay-'));
    // A server with a small event limit turns these events away as too large...
    const small = await startInlet({ dataDir, limits: { maxEventBytes: 600, maxBatchEvents: 1000, maxBodyBytes: 512_000 } });
    token = small.adminToken!;
    const reply = await postJson(small.url, '/v1/batch', {
      sentAt: new Date().toISOString(),
      batch: [padded(ids[0], 700), padded(ids[1], 700), padded(undefined, 700), { type: 'track', userId: 'u' }, { type: 'track', userId: 'u', event: 'fits' }],
    }, small.writeKey, { 'x-forwarded-for': '203.0.113.9' });
    assert.deepEqual([reply.json?.accepted, reply.json?.rejected], [1, 4]);
    await small.close();
    // ...and one with the default limit (32 KB) replays them.
    inlet = await startInlet({ dataDir });
  });
  after(async () => {
    await inlet.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const replay = async (body: Record<string, unknown> = {}) => {
    const reply = await adminRequest(inlet.adminUrl, token, '/api/failed/replay', { method: 'POST', body });
    assert.equal(reply.status, 200, reply.text);
    return reply.json as unknown as ReplaySummary;
  };
  const listed = async (status: string) => ((await adminRequest(inlet.adminUrl, token, `/api/failed?status=${status}`)).json as { failed: FailedView[] }).failed;

  test('a dry run counts what would pass now and stores nothing', async () => {
    const before = (await inlet.events()).length;
    assert.deepEqual(await replay({ dryRun: true }), { dryRun: true, matched: 4, passed: 3, stored: 0, duplicates: 0, stillFailing: 1 });
    assert.equal((await inlet.events()).length, before);
    assert.equal((await listed('failed')).length, 4);
  });

  test('what passes is stored with its original messageId, receivedAt and address, marked with the failed entry it came from', async () => {
    const entries = await listed('failed');
    assert.deepEqual(await replay(), { dryRun: false, matched: 4, passed: 3, stored: 3, duplicates: 0, stillFailing: 1 });
    const stored = new Map((await inlet.events()).map((r) => [r.messageId, r]));
    for (const entry of entries.filter((e) => e.reason === 'too_large')) {
      const record = stored.get(entry.messageId!) as NormalizedRecord;
      assert.ok(record, `${entry.messageId} is stored`);
      assert.equal(record.receivedAt, entry.receivedAt);
      assert.equal(record.context.ip, '127.0.0.1');
      assert.deepEqual(record.context.inlet, { replayed: entry.id });
      assert.equal(record.sourceId, entry.sourceId);
      assert.equal(record.sentAt, entry.context.sentAt);
    }
    assert.ok(stored.has(ids[0]) && stored.has(ids[1]), 'the ids the client gave are kept');
    const replayed = await listed('replayed');
    assert.equal(replayed.length, 3);
    assert.ok(replayed.every((e) => e.status === 'replayed' && e.replayedAt));
    const left = await listed('failed');
    assert.deepEqual(left.map((e) => e.reason), ['invalid'], 'what still fails stays');
  });

  test('replaying again stores nothing twice', async () => {
    const before = (await inlet.events()).length;
    assert.deepEqual(await replay(), { dryRun: false, matched: 1, passed: 0, stored: 0, duplicates: 0, stillFailing: 1 });
    assert.equal((await inlet.events()).length, before);
    const stats = (await adminRequest(inlet.adminUrl, token, '/api/stats')).json as { sources: { replayed: number }[] };
    assert.equal(stats.sources[0].replayed, 3);
  });

  test('one entry can be replayed by its id; an unknown id is 404', async () => {
    const [left] = await listed('failed');
    const reply = await adminRequest(inlet.adminUrl, token, `/api/failed/${left.id}/replay`, { method: 'POST', body: { dryRun: true } });
    assert.equal((reply.json as unknown as ReplaySummary).matched, 1);
    assert.equal((await adminRequest(inlet.adminUrl, token, '/api/failed/nope/replay', { method: 'POST', body: {} })).status, 404);
  });
});

test('a failed event from /v1/import of a server source replays as it would have been stored then: its old timestamp, its forwarded address after the IP policy', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-replay-import-'));
  try {
    const small = await startInlet({ dataDir, limits: { maxEventBytes: 600, maxBatchEvents: 1000, maxBodyBytes: 512_000 } });
    const token = small.adminToken!;
    const backend = await small.server.sources.create({ name: 'backend', kind: 'server', ipPolicy: 'anonymize' });
    const event = { ...padded('import-1', 700), timestamp: '2020-01-02T03:04:05.000Z', context: { ip: '198.51.100.23' } };
    assert.equal((await postJson(small.url, '/v1/import', { batch: [event] }, backend.writeKey)).json?.rejected, 1);
    await small.close();
    const inlet = await startInlet({ dataDir });
    try {
      const summary = (await adminRequest(inlet.adminUrl, token, '/api/failed/replay', { method: 'POST', body: {} })).json as unknown as ReplaySummary;
      assert.equal(summary.stored, 1);
      const record = (await inlet.events()).find((r) => r.messageId === 'import-1')!;
      assert.equal(record.timestamp, '2020-01-02T03:04:05.000Z', 'an import keeps its old time');
      assert.equal(record.context.ip, '198.51.100.0', 'the forwarded address, anonymized');
    } finally {
      await inlet.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('events refused for numbers a double cannot hold stay failed on replay: what was kept is not what was sent', async () => {
  const inlet = await startInlet();
  try {
    const post = (body: string) => fetch(`${inlet.url}/v1/batch`, { method: 'POST', body, headers: { authorization: `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}` } });
    const reply = await post('{"batch":[{"type":"track","userId":12345678901234567890,"event":"Big","messageId":"inexact-id"},'
      + '{"type":"track","userId":"u","event":"Big","messageId":"inexact-huge","properties":{"x":1e400}},'
      + '{"type":"track","userId":1.5,"event":"Big","messageId":"fractional-id"}]}');
    assert.equal(((await reply.json()) as { rejected: number }).rejected, 3);
    // A body in Latin-1, kept as its bytes: decoded as UTF-8 on replay it would be stored with U+FFFD.
    const latin1 = await fetch(`${inlet.url}/v1/track`, { method: 'POST', body: Buffer.from('{"userId":"u","event":"caf\u00e9","messageId":"latin1-replay"}', 'latin1'), headers: { authorization: `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}` } });
    assert.equal(latin1.status, 400);
    const summary = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed/replay', { method: 'POST', body: {} })).json as unknown as ReplaySummary;
    assert.deepEqual([summary.passed, summary.stored], [0, 0], JSON.stringify(summary));
    const stored = (await inlet.events()).map((r) => r.messageId);
    assert.deepEqual(stored, [], 'nothing stored changed');
    const still = ((await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed')).json as { failed: FailedView[] }).failed;
    for (const id of ['inexact-id', 'inexact-huge']) {
      const entry = still.find((f) => f.messageId === id);
      assert.equal(entry?.status, 'failed', id);
      assert.match(entry!.errors.join(' '), /not as sent, so it is not replayed/, id);
    }
    const fractional = still.find((f) => f.messageId === 'fractional-id');
    assert.match(fractional!.errors.join(' '), /userId is 1\.5, not an integer/);
    assert.doesNotMatch(fractional!.errors.join(' '), /not as sent/, '1.5 was kept exactly: it fails for what it is');
    const body = still.find((f) => f.kind === 'body');
    assert.equal(body?.status, 'failed');
    assert.match(body!.errors.join(' '), /not UTF-8/);
  } finally {
    await inlet.close();
  }
});

describe('replay from the command line', () => {
  let dataDir: string;

  before(() => { dataDir = mkdtempSync(join(tmpdir(), 'inlet-replay-cli-')); });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('what still fails gets today\'s reasons; a whole batch that was too large is replayed whole once the limit allows it', async () => {
    const inlet = await startInlet({ dataDir, limits: { maxEventBytes: 600, maxBatchEvents: 3, maxBodyBytes: 512_000 } });
    try {
      await postJson(inlet.url, '/v1/batch', { batch: [padded(undefined, 900)] }, inlet.writeKey);
      // (with a context for all its events, which the replay merges into each as the route would)
      const big = { batch: Array.from({ length: 5 }, (_, i) => ({ type: 'track', userId: `b-${i}`, event: 'From a big batch' })), context: { device: { type: 'phone' } } };
      assert.equal((await postJson(inlet.url, '/v1/batch', big, inlet.writeKey)).status, 413);
    } finally {
      await inlet.close();
    }
    // Still too large for 700 bytes; the batch now fits under 10 events.
    const out = await cli(['failed', 'replay', '--json'], dataDir, { MAX_EVENT_BYTES: '700', MAX_BATCH_EVENTS: '10' });
    assert.deepEqual(JSON.parse(out.stdout.trim().split('\n').pop()!), { dryRun: false, matched: 2, passed: 1, stored: 5, duplicates: 0, stillFailing: 1 });
    const list = await cli(['failed', 'list', '--json'], dataDir);
    const [still] = list.stdout.trim().split('\n').map((line) => JSON.parse(line) as FailedView);
    assert.equal(still.reason, 'too_large');
    assert.match(still.errors[0], /the limit is 700$/);
    const shown = JSON.parse((await cli(['failed', 'show', still.id], dataDir)).stdout) as FailedView;
    assert.deepEqual(shown, still);

    const again = await cli(['failed', 'replay', '--json'], dataDir, { MAX_EVENT_BYTES: '700', MAX_BATCH_EVENTS: '10' });
    assert.equal((JSON.parse(again.stdout) as ReplaySummary).stored, 0);
    const db = new Database(databaseFile(dataDir), { readonly: true });
    const rows = db.prepare("SELECT body FROM events WHERE body LIKE '%From a big batch%'").all() as { body: string }[];
    db.close();
    assert.equal(rows.length, 5, 'each event of the batch stored once');
    for (const { body } of rows) assert.deepEqual((JSON.parse(body) as NormalizedRecord).context?.device, { type: 'phone' }, "the batch's context is in each");
  });

  test('inlet failed list/show say clearly when there is no store or no such event', async () => {
    await assert.rejects(cli(['failed', 'list'], join(dataDir, 'missing')), (error: { stderr: string; code: number }) => /no embedded store/.test(error.stderr) && error.code === 1);
    await assert.rejects(cli(['failed', 'show', 'nope'], dataDir), (error: { stderr: string }) => /no failed event with id nope/.test(error.stderr));
    await assert.rejects(cli(['failed', 'list', '--reason', 'weird'], dataDir), (error: { stderr: string; code: number }) => /--reason must be one of invalid, too_large, malformed_body/.test(error.stderr) && error.code === 2);
  });
});

test('a replay killed with SIGKILL half way finishes on the next run, without duplicates', { timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-replay-kill-'));
  try {
    const total = 20_000;
    const inlet = await startInlet({ dataDir, limits: { maxEventBytes: 300, maxBatchEvents: 1000, maxBodyBytes: 512_000 } });
    try {
      for (let b = 0; b < total / 1000; b++) {
        const reply = await postJson(inlet.url, '/v1/batch', { batch: Array.from({ length: 1000 }, (_, i) => padded(`k-${b}-${i}`, 260)) }, inlet.writeKey);
        assert.equal(reply.json?.rejected, 1000);
      }
    } finally {
      await inlet.close();
    }
    const count = () => {
      const db = new Database(databaseFile(dataDir), { readonly: true });
      try {
        return db.prepare("SELECT (SELECT count(*) FROM events) AS events, (SELECT count(DISTINCT message_id) FROM events) AS distinctIds, (SELECT count(*) FROM failed_events WHERE status = 'replayed') AS replayed").get() as { events: number; distinctIds: number; replayed: number };
      } finally {
        db.close();
      }
    };

    const child = spawn(process.execPath, [BIN, 'failed', 'replay'], { env: { ...process.env, INLET_DATA_DIR: dataDir, KAFKA_BROKERS: '', DATABASE_URL: '', MAX_EVENT_BYTES: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)));
    // Killed as soon as it reports its first chunk committed.
    await new Promise<void>((done, fail) => {
      child.stdout!.on('data', (chunk: Buffer) => { if (/checked \d+/.test(chunk.toString())) done(); });
      child.once('exit', () => fail(new Error('the replay ended before it reported progress')));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const half = count();
    assert.ok(half.replayed > 0 && half.replayed < total, `the kill landed half way (${half.replayed} of ${total} replayed)`);
    assert.equal(half.events, half.replayed, 'every entry marked replayed has its event stored, and no other');

    const rerun = await cli(['failed', 'replay', '--json'], dataDir);
    const summary = JSON.parse(rerun.stdout.trim().split('\n').pop()!) as ReplaySummary;
    assert.equal(summary.stored, total - half.replayed);
    const done = count();
    assert.deepEqual(done, { events: total, distinctIds: total, replayed: total });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
