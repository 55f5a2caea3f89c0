// The server runs with --max-semi-space-size=64 for its main thread; V8 would give the SQLite
// writer thread the same young generation, which under overload it filled with rows that live one
// group commit. The writer gets the young generation it asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const WRITER = new URL('../src/db/writer.ts', import.meta.url).href;

// Run in a child: the flag applies to a whole process, as bin/inlet.js starts it. A heap's limit is
// its old generation's plus its young generation's, so the limits compare the young generations.
const PROBE = `
  import { once } from 'node:events';
  import { getHeapStatistics } from 'node:v8';
  import { Worker } from 'node:worker_threads';
  import { DatabaseWriter, WRITER_YOUNG_GENERATION_MB } from ${JSON.stringify(WRITER)};
  const limitOf = async (worker) => { await once(worker, 'online'); return (await worker.getHeapStatistics()).heap_size_limit; };
  const writer = new DatabaseWriter({ dataDir: process.argv[1], writeTimeoutMs: 5000 });
  const writerLimit = await limitOf(writer.worker);
  const asked = new Worker('setTimeout(() => {}, 60000)', { eval: true, resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB } });
  const askedLimit = await limitOf(asked);
  await asked.terminate();
  await writer.close();
  console.log(JSON.stringify({ main: getHeapStatistics().heap_size_limit, writer: writerLimit, asked: askedLimit }));
`;

test('the writer thread gets its own young generation when the main thread is given a large one', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-writer-memory-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=64', '--conditions=inlet-source', '--input-type=module', '-e', PROBE, dataDir]);
    const limits = JSON.parse(stdout) as { main: number; writer: number; asked: number };
    assert.equal(limits.writer, limits.asked, 'the writer has the limits of a worker that asks for WRITER_YOUNG_GENERATION_MB');
    // The main thread's young generation is 3 x 64 MB as V8 counts it; the writer's 48 MB.
    const smallerBy = (limits.main - limits.writer) / 2 ** 20;
    assert.ok(smallerBy >= 128, `the writer's heap limit is only ${smallerBy.toFixed(0)} MB below the main thread's`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
