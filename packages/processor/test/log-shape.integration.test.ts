// The processor's log lines have the server's shape, so one log pipeline parses both: pino's
// envelope (level as a number, time in ms, pid, hostname, msg last) with a component, every line
// on stdout as JSON; and none of them carries an event. The processor runs as its own process
// (bin/inlet-process.js) on the shared broker; the server as `inlet serve` with stdout a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKafka, spawnServe } from '@inlet/testkit';
import { createTopics, deleteTopics, produceRaw, rawRecord, uniqueName, waitFor } from './kafka-helpers.ts';
import { PROCESSOR_BIN } from './processor-child.ts';

const kafka = await needKafka();

type Line = Record<string, unknown>;

/** The lines of a stream's text; each must be JSON. */
function jsonLines(text: string): Line[] {
  return text.split('\n').filter(Boolean).map((line) => {
    try { return JSON.parse(line) as Line; } catch { throw new Error(`not a JSON line: ${line}`); }
  });
}

/** pino's envelope: the keys and their types, in order, around a line's own fields. */
function envelope(line: Line): string {
  const keys = Object.keys(line);
  const shape = (key: string) => `${key}:${typeof line[key]}`;
  return [...keys.slice(0, 4).map(shape), '…', shape(keys.at(-1)!)].join(' ');
}

test('the processor logs as the server does: pino JSON lines on stdout, with a component, and no event in them', { skip: kafka.skip, timeout: 120_000 }, async () => {
  const brokers = kafka.value!.split(',');
  const [input, output, group] = [uniqueName('logs-raw'), uniqueName('logs-events'), uniqueName('logs-group')];
  await createTopics(brokers, [input, output], 1);
  const marker = `payload-${uniqueName('m')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-log-shape-'));
  try {
    await produceRaw(brokers, Array.from({ length: 20 }, (_, i) => rawRecord(input, { messageId: `log-${i}`, sourceId: 'src_logs', userId: 'u1', receivedAt: Date.now(), event: marker })));

    const child = spawn(process.execPath, [PROCESSOR_BIN, '--brokers', kafka.value!, '--group', group, '--input', input, '--output', output, '--log-interval', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise((done) => child.once('exit', done));
    try {
      await waitFor('the processor to count the events it consumed', () => jsonLines(stdout.slice(0, stdout.lastIndexOf('\n') + 1)).some((l) => l.msg === 'processor counts' && Number(l.consumed) >= 20), 60_000);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const processorLines = jsonLines(stdout);
    assert.equal(stderr, '', 'every log line is on stdout');
    assert.ok(processorLines.some((l) => l.msg === 'processor stopped'), stdout);

    const server = await spawnServe({ env: { INLET_DATA_DIR: dataDir, LOG_LEVEL: 'info' } });
    await server.kill('SIGTERM');
    const serverLines = jsonLines(server.stdout());
    const serverShape = envelope(serverLines.find((l) => String(l.msg).startsWith('Inlet is listening'))!);
    assert.equal(serverShape, 'level:number time:number pid:number hostname:string … msg:string');

    for (const line of processorLines) {
      assert.equal(envelope(line), serverShape, JSON.stringify(line));
      assert.equal(line.component, 'processor');
      assert.equal(line.pid, child.pid);
      assert.equal(line.hostname, hostname());
      assert.ok([30, 40, 50].includes(line.level as number), JSON.stringify(line));
    }
    assert.ok(!stdout.includes(marker), 'no event in the log');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await deleteTopics(brokers, [input, output, `${group}-dedup-changelog`]).catch(() => {});
  }
});
