// The server runs with --max-semi-space-size=64 for its main thread; V8 would give the SQLite
// writer thread the same young generation (192 MB of it), which under overload it filled with
// rows that live one group commit. The writer sizes its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const WRITER = new URL('../src/db/writer.ts', import.meta.url).href;

// Run in a child: the flag applies to a whole process, as bin/inlet.js starts it.
const PROBE = `
  import { once } from 'node:events';
  import { getHeapStatistics } from 'node:v8';
  import { DatabaseWriter } from ${JSON.stringify(WRITER)};
  const writer = new DatabaseWriter({ dataDir: process.argv[1], writeTimeoutMs: 5000 });
  await once(writer.worker, 'online');
  const own = await writer.worker.getHeapStatistics();
  console.log(JSON.stringify({ main: getHeapStatistics().heap_size_limit, writer: own.heap_size_limit }));
  await writer.close();
`;

test('the writer thread keeps a small young generation when the main thread is given a large one', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-writer-memory-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=64', '--conditions=inlet-source', '--input-type=module', '-e', PROBE, dataDir]);
    const limits = JSON.parse(stdout) as { main: number; writer: number };
    // Each heap's limit is its old generation's plus three semi-spaces: 3 x 64 MB on the main thread.
    const youngDifference = (limits.main - limits.writer) / 2 ** 20;
    assert.ok(youngDifference >= 128, `the writer's heap limit is only ${youngDifference.toFixed(0)} MB below the main thread's`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
