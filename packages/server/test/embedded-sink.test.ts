import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { NormalizedRecord } from '@inlet/schema';
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
