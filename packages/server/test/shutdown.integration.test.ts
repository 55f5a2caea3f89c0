// SIGTERM while requests are in flight: they finish with 200 and their events are stored, and the
// process exits 0.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStoredEvents } from '@inlet/server';
import { freePort, spawnInlet, startLoad, type ChildInlet } from './child-server.ts';

let dataDir: string;
let inlet: ChildInlet | undefined;

before(() => { dataDir = mkdtempSync(join(tmpdir(), 'inlet-shutdown-')); });
after(async () => {
  if (inlet && inlet.child.exitCode === null && inlet.child.signalCode === null) { inlet.child.kill('SIGKILL'); await inlet.exited; }
  rmSync(dataDir, { recursive: true, force: true });
});

/** A request whose headers and first half of the body are sent now; `finish()` sends the rest. */
function slowRequest(url: string, writeKey: string, messageId: string) {
  const body = Buffer.from(JSON.stringify({ writeKey, batch: [{ type: 'track', userId: 'slow', event: 'Slow', messageId }] }));
  const req = http.request(`${url}/v1/batch`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length } });
  const answer = new Promise<number>((done, fail) => {
    req.on('response', (res) => { res.resume(); res.on('end', () => done(res.statusCode ?? 0)); });
    req.on('error', fail);
  });
  req.flushHeaders();
  req.write(body.subarray(0, body.length >> 1));
  return { answer, finish: () => req.end(body.subarray(body.length >> 1)) };
}

test('SIGTERM finishes in-flight requests, stores their events and exits 0', { timeout: 60_000 }, async () => {
  inlet = await spawnInlet(dataDir, await freePort());
  const load = startLoad(inlet.url, inlet.writeKey, 4, 20);
  while (load.acknowledged.size < 200) await sleep(20);

  // Requests the server is in the middle of reading when the signal comes.
  const slow = ['slow-1', 'slow-2', 'slow-3'].map((id) => ({ id, ...slowRequest(inlet!.url, inlet!.writeKey, id) }));
  await sleep(300); // let the server read their headers
  inlet.child.kill('SIGTERM');
  await sleep(200);
  for (const s of slow) s.finish();

  const statuses = await Promise.all(slow.map((s) => s.answer));
  const { code, signal } = await inlet.exited;
  await load.stop();
  assert.deepEqual(statuses, [200, 200, 200], 'requests in flight at SIGTERM were answered 200');
  assert.equal(signal, null);
  assert.equal(code, 0, `exit code; stderr: ${inlet.stderr()}`);

  const stored = new Set(readStoredEvents(dataDir, 0, 10_000_000).map((row) => row.record.messageId));
  for (const s of slow) assert.ok(stored.has(s.id), `${s.id} stored`);
  const lost = [...load.acknowledged].filter((id) => !stored.has(id));
  assert.equal(lost.length, 0, `${lost.length} acknowledged events lost`);
  for (const status of load.statuses.keys()) assert.ok(status === 200 || status === 503 || typeof status === 'string', `unexpected status ${status}`);
});
