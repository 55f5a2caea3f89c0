import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NormalizedRecord } from '@inlet/schema';
import type { Worker } from 'node:worker_threads';
import { SinkUnavailableError } from '../src/errors.ts';
import { EmbeddedSink } from '../src/sinks/embedded-sink.ts';
import { databaseFile } from '../src/db/database.ts';
import type { StoredEvent } from '../src/sinks/sink.ts';

const PADDING = 'x'.repeat(1000);

function batch(from: number, count: number): StoredEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const record = { sourceId: 'src_test', messageId: `m-${from + i}`, receivedAt: '2026-11-26T12:00:00.000Z' } as NormalizedRecord;
    return { record, json: JSON.stringify({ ...record, padding: PADDING }) };
  });
}

const sizeOf = (file: string) => { try { return statSync(file).size; } catch { return 0; } };

test('the embedded sink checkpoints beside its commits: the database file fills while it runs, and the WAL stays bounded', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-embedded-'));
  const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 30_000 });
  try {
    // ~100 MB of events in 1000-event commits: several times the writer's own checkpoint interval.
    const total = 100_000;
    for (let from = 0; from < total; from += 1000) await sink.write(batch(from, 1000));
    await new Promise((resolve) => setTimeout(resolve, 200));

    const file = databaseFile(dataDir);
    // SQLite's automatic checkpoints are off in the writer: only our checkpoints move pages here.
    assert.ok(sizeOf(file) > 50e6, `database file holds ${sizeOf(file)} bytes, expected the checkpointed events`);
    assert.ok(sizeOf(`${file}-wal`) <= 64 * 1024 * 1024, `WAL is ${sizeOf(`${file}-wal`)} bytes, above its 64 MiB limit`);

    const reader = new Database(file, { readonly: true });
    const { n } = reader.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
    reader.close();
    assert.equal(n, total);
  } finally {
    await sink.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a write of 250 events with repeats, and one mixing sources and minutes, store each event once and count stored and duplicates per source', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-rows-'));
  const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 10_000 });
  try {
    const event = (sourceId: string, messageId: string, receivedAt = '2026-11-26T12:00:00.000Z'): StoredEvent => {
      const record = { sourceId, messageId, receivedAt } as NormalizedRecord;
      return { record, json: JSON.stringify(record) };
    };
    // 250 events (statements of 100, 100 and 50 rows); the last 30 repeat m-190 to m-219, 20 of them within the same statement.
    const first = Array.from({ length: 250 }, (_, i) => event('src_a', `m-${i < 220 ? i : i - 30}`));
    const [one, two] = await Promise.all([sink.write(first), sink.write(batch(0, 3))]);
    assert.equal(one.duplicates, 30);
    assert.equal(two.duplicates, 0);
    // Sources and minutes mixed within one write: counted per source and minute all the same.
    const mixed = [event('src_a', 'm-0'), event('src_b', 'm-0'), event('src_b', 'm-1', '2026-11-26T12:01:00.000Z'), event('src_b', 'm-1')];
    assert.equal((await sink.write(mixed)).duplicates, 2);
    await sink.close();
    const db = new Database(databaseFile(dataDir), { readonly: true });
    try {
      const count = (source: string) => (db.prepare('SELECT count(*) AS n FROM events WHERE source_id = ?').get(source) as { n: number }).n;
      assert.equal(count('src_a'), 220);
      assert.equal(count('src_b'), 2);
      const stats = db.prepare('SELECT source_id, minute, outcome, sum(count) AS n FROM source_stats GROUP BY source_id, minute, outcome ORDER BY source_id, minute, outcome').all();
      const minute = Math.floor(Date.parse('2026-11-26T12:00:00.000Z') / 60_000);
      assert.deepEqual(stats.map((r) => ({ ...(r as object) })), [
        { source_id: 'src_a', minute, outcome: 'duplicate', n: 31 },
        { source_id: 'src_a', minute, outcome: 'stored', n: 220 },
        { source_id: 'src_b', minute, outcome: 'duplicate', n: 1 },
        { source_id: 'src_b', minute, outcome: 'stored', n: 1 },
        { source_id: 'src_b', minute: minute + 1, outcome: 'stored', n: 1 },
        { source_id: 'src_test', minute, outcome: 'stored', n: 3 },
      ]);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a writer thread that ends unasked is started again: writes are refused meanwhile (503s to retry), then stored, nothing stored twice', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-embedded-restart-'));
  const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 5000 });
  try {
    await sink.write(batch(0, 10));
    // As a crash would: the thread ends without being asked to close.
    await (sink.writer as unknown as { worker: Worker }).worker.terminate();
    await assert.rejects(sink.write(batch(10, 10)), SinkUnavailableError);
    assert.equal(await sink.ready(), false);
    const started = Date.now();
    for (;;) {
      try {
        await sink.write(batch(10, 10));
        break;
      } catch (error) {
        assert.ok(error instanceof SinkUnavailableError, String(error));
        assert.ok(Date.now() - started < 15_000, 'a new writer thread within 15 s (it starts after 1 s)');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await sink.write(batch(0, 20));
    assert.equal(await sink.ready(), true);
  } finally {
    await sink.close();
  }
  const reader = new Database(databaseFile(dataDir), { readonly: true });
  const { n, ids } = reader.prepare('SELECT count(*) AS n, count(DISTINCT message_id) AS ids FROM events').get() as { n: number; ids: number };
  reader.close();
  rmSync(dataDir, { recursive: true, force: true });
  assert.deepEqual({ n, ids }, { n: 20, ids: 20 });
});

// Moved: mv, a restore, NFS renaming a file deleted while open; the next start opens another file.
const takeAway = {
  deleted: (file: string) => rmSync(file),
  'moved away': (file: string) => renameSync(file, `${file}.moved`),
};

for (const [how, takeFileAway] of Object.entries(takeAway)) {
  test(`a database file ${how} under a running store: the next write is refused (503), not answered and lost, and so are the writes after it`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-embedded-removed-'));
    const errors: string[] = [];
    const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 5000, logger: { error: (message) => errors.push(message) } });
    try {
      await sink.write(batch(0, 10));
      takeFileAway(databaseFile(dataDir));
      await assert.rejects(sink.write(batch(100, 10)), (error: unknown) => error instanceof SinkUnavailableError && /was deleted, moved or replaced while the server ran/.test(error.message));
      assert.equal(await sink.ready(), false);
      assert.match(errors.join('\n'), /was deleted, moved or replaced while the server ran/, 'said once in the log');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await assert.rejects(sink.write(batch(900, 1)), SinkUnavailableError, 'still refused: no new thread on a file that is not the one opened');
    } finally {
      await sink.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

test('a thread started again after its file was deleted meanwhile does not take writes into a new file', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-embedded-restart-removed-'));
  const sink = new EmbeddedSink({ dataDir, writeTimeoutMs: 5000 });
  try {
    await sink.write(batch(0, 10));
    await (sink.writer as unknown as { worker: Worker }).worker.terminate();
    rmSync(databaseFile(dataDir));
    // The restart comes after 1 s; each write until then and after it is refused.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      await assert.rejects(sink.write(batch(100, 1)), SinkUnavailableError);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await assert.rejects(sink.write(batch(200, 1)), (error: unknown) => error instanceof SinkUnavailableError && /was deleted, moved or replaced while the server ran/.test(error.message));
  } finally {
    await sink.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
