// The server runs with --max-semi-space-size=64 for its main thread; V8 would give its worker
// threads the same young generation, which under overload the SQLite writer filled with rows that
// live one group commit. The writer and the Kafka producer thread get the young generation they ask for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const WRITER = new URL('../src/db/writer.ts', import.meta.url).href;
const PRODUCER = new URL('../src/sinks/kafka-producer.ts', import.meta.url).href;

// Run in a child: the flag applies to a whole process, as bin/inlet.js starts it. A heap's limit is
// its old generation's plus its young generation's, so the limits compare the young generations.
// The probe is a file, not `--input-type=module -e`: workers inherit the flags, and a worker given
// --input-type refuses to load its own file (ERR_INPUT_TYPE_NOT_ALLOWED) — measured then, it had
// often exited already. Each thread must still be running after it was measured.
const PROBE = `
  import { once } from 'node:events';
  import { getHeapStatistics } from 'node:v8';
  import { Worker } from 'node:worker_threads';
  import { DatabaseWriter, WRITER_YOUNG_GENERATION_MB } from ${JSON.stringify(WRITER)};
  import { ProducerThread, PRODUCER_YOUNG_GENERATION_MB } from ${JSON.stringify(PRODUCER)};
  const stopped = [];
  const watch = (name, worker) => {
    worker.once('error', (error) => stopped.push(name + ': ' + error.message));
    worker.once('exit', (code) => stopped.push(name + ' exited with code ' + code));
    return worker;
  };
  const limitOf = async (worker) => { await once(worker, 'online'); return (await worker.getHeapStatistics()).heap_size_limit; };
  const askedFor = async (mb) => {
    const asked = new Worker('setTimeout(() => {}, 60000)', { eval: true, resourceLimits: { maxYoungGenerationSizeMb: mb } });
    const limit = await limitOf(asked);
    await asked.terminate();
    return limit;
  };
  // The producer thread first: whichever starts first clears the flag.
  const producer = new ProducerThread({ writer: { brokers: ['127.0.0.1:9'], clientId: 'heap-probe', retries: 2 }, topics: ['raw-events'] });
  const producerLimit = await limitOf(watch('producer', producer.worker));
  const writer = new DatabaseWriter({ dataDir: process.argv[2], writeTimeoutMs: 5000 });
  const writerLimit = await limitOf(watch('writer', writer.worker));
  // Long enough for a thread that fails to load its code to have failed.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const limits = {
    main: getHeapStatistics().heap_size_limit,
    writer: writerLimit, writerAsked: await askedFor(WRITER_YOUNG_GENERATION_MB),
    producer: producerLimit, producerAsked: await askedFor(PRODUCER_YOUNG_GENERATION_MB),
    stopped: [...stopped],
  };
  await Promise.all([writer.close(), producer.close()]);
  console.log(JSON.stringify(limits));
`;

test('the writer and the Kafka producer threads get their own young generations when the main thread is given a large one', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-writer-memory-'));
  try {
    const probe = join(dataDir, 'probe.mjs');
    writeFileSync(probe, PROBE);
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=64', '--conditions=inlet-source', probe, dataDir]);
    const limits = JSON.parse(stdout) as { main: number; writer: number; writerAsked: number; producer: number; producerAsked: number; stopped: string[] };
    assert.deepEqual(limits.stopped, [], 'both threads were still running when measured');
    assert.equal(limits.writer, limits.writerAsked, 'the writer has the limits of a worker that asks for WRITER_YOUNG_GENERATION_MB');
    assert.equal(limits.producer, limits.producerAsked, 'the producer thread has the limits of a worker that asks for PRODUCER_YOUNG_GENERATION_MB');
    // The main thread's young generation is 3 x 64 MB as V8 counts it; the threads' 48 MB.
    for (const thread of ['writer', 'producer'] as const) {
      const smallerBy = (limits.main - limits[thread]) / 2 ** 20;
      assert.ok(smallerBy >= 128, `the ${thread}'s heap limit is only ${smallerBy.toFixed(0)} MB below the main thread's`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
