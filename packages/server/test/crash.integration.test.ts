// `inlet serve` killed with SIGKILL under concurrent load, then restarted on the same data dir:
// every event that got a 200 must be in the store, and none twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStoredEvents } from '@inlet/server';
import { freePort, spawnInlet, startLoad, type ChildInlet } from './child-server.ts';

let dataDir: string;
const children: ChildInlet[] = [];

before(() => { dataDir = mkdtempSync(join(tmpdir(), 'inlet-crash-')); });
after(async () => {
  for (const { child, exited } of children) if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
  rmSync(dataDir, { recursive: true, force: true });
});

test('SIGKILL mid-load loses no acknowledged event', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const first = await spawnInlet(dataDir, port);
  children.push(first);
  const load = startLoad(first.url, first.writeKey, 6, 25);
  // Load until a good number of batches were acknowledged (bounded: at most ~3 s).
  for (let i = 0; i < 60 && load.acknowledged.size < 2_000; i++) await sleep(50);
  first.child.kill('SIGKILL');
  const { signal } = await first.exited;
  assert.equal(signal, 'SIGKILL');
  await load.stop();
  assert.ok(load.acknowledged.size > 0, `some batches were acknowledged before the kill: ${JSON.stringify([...load.statuses])}`);
  assert.ok(load.acknowledged.size < load.sent.size, 'the kill landed while requests were in flight');

  const second = await spawnInlet(dataDir, port);
  children.push(second);
  assert.equal(second.writeKey, first.writeKey, 'the default source survived');

  const stored = readStoredEvents(dataDir, 0, 10_000_000).map((row) => row.record.messageId);
  const unique = new Set(stored);
  assert.equal(unique.size, stored.length, 'no event stored twice');
  const lost = [...load.acknowledged].filter((id) => !unique.has(id));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${load.acknowledged.size} acknowledged events lost`);
  assert.ok([...unique].every((id) => load.sent.has(id)), 'nothing stored that was not sent');

  // The restarted server takes writes, and a client retrying an acknowledged batch does not duplicate it.
  const retry = startLoad(second.url, second.writeKey, 1, 25);
  while (retry.acknowledged.size === 0) await sleep(20);
  await retry.stop();
  const after = readStoredEvents(dataDir, 0, 10_000_000).map((row) => row.record.messageId);
  assert.equal(new Set(after).size, after.length, 'retries of acknowledged messageIds are not stored twice');

  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
});
