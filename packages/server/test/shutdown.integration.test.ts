// SIGTERM while requests are in flight: they finish with 200 and their events are stored, and the
// process exits 0 — within the drain bound even when a client is stuck mid-body.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStoredEvents } from '@inlet/server';
import { startInlet } from '@inlet/testkit';
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

test('SIGTERM with a request stuck mid-body: the server drains for SHUTDOWN_DRAIN_MS, closes the stuck connection, keeps what it acknowledged and exits 0', { timeout: 60_000 }, async () => {
  const stuckDir = mkdtempSync(join(tmpdir(), 'inlet-shutdown-stuck-'));
  // The body timeout is long, so only the drain can end the stuck request.
  const child = await spawnInlet(stuckDir, await freePort(), { SHUTDOWN_DRAIN_MS: '1500', BODY_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '120000' });
  try {
    const load = startLoad(child.url, child.writeKey, 2, 20);
    while (load.acknowledged.size < 100) await sleep(20);
    const stuck = slowRequest(child.url, child.writeKey, 'stuck-1');
    const stuckStatus = stuck.answer.then((status) => String(status), (error: Error & { code?: string }) => error.code ?? 'error');
    await sleep(300);
    const termAt = performance.now();
    child.child.kill('SIGTERM');
    const { code, signal } = await child.exited;
    const exitMs = performance.now() - termAt;
    await load.stop();
    assert.equal(signal, null);
    assert.equal(code, 0, `exit code; stderr: ${child.stderr()}`);
    assert.ok(exitMs >= 1400, `it waited for the drain (${Math.round(exitMs)} ms)`);
    assert.ok(exitMs < 10_000, `it exited soon after the drain (${Math.round(exitMs)} ms)`);
    assert.notEqual(await stuckStatus, '200', 'the stuck request was not acknowledged');
    const stored = new Set(readStoredEvents(stuckDir, 0, 10_000_000).map((row) => row.record.messageId));
    const lost = [...load.acknowledged].filter((id) => !stored.has(id));
    assert.equal(lost.length, 0, `${lost.length} acknowledged events lost`);
  } finally {
    if (child.child.exitCode === null && child.child.signalCode === null) { child.child.kill('SIGKILL'); await child.exited; }
    rmSync(stuckDir, { recursive: true, force: true });
  }
});

test('a second SIGTERM or SIGINT during the drain does not cut it short: the stuck request still gets its drain, and the exit is 0', { timeout: 60_000 }, async () => {
  const repeatDir = mkdtempSync(join(tmpdir(), 'inlet-shutdown-repeat-'));
  const child = await spawnInlet(repeatDir, await freePort(), { SHUTDOWN_DRAIN_MS: '1500', BODY_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '120000' });
  try {
    const stuck = slowRequest(child.url, child.writeKey, 'stuck-repeat');
    stuck.answer.catch(() => undefined);
    await sleep(300);
    const termAt = performance.now();
    child.child.kill('SIGTERM');
    await sleep(200);
    child.child.kill('SIGTERM');
    child.child.kill('SIGINT');
    const { code, signal } = await child.exited;
    const exitMs = performance.now() - termAt;
    assert.equal(signal, null, 'not ended by the repeated signal');
    assert.equal(code, 0, `exit code; stderr: ${child.stderr()}`);
    assert.ok(exitMs >= 1400, `it waited for the drain (${Math.round(exitMs)} ms)`);
  } finally {
    if (child.child.exitCode === null && child.child.signalCode === null) { child.child.kill('SIGKILL'); await child.exited; }
    rmSync(repeatDir, { recursive: true, force: true });
  }
});

test('a request that arrives on an open connection during shutdown gets a retryable 503 in the usual shape', { timeout: 30_000 }, async () => {
  const server = await startInlet();
  const { port } = new URL(server.url);
  const body = JSON.stringify({ writeKey: server.writeKey, userId: 'u', event: 'e', messageId: 'in-flight' });
  const head = `POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const socket = net.connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => { received += chunk.toString(); });
  const ended = new Promise((done) => socket.once('close', done));
  try {
    await new Promise((done) => socket.once('connect', done));
    socket.write(head + body.slice(0, 10));
    await sleep(200); // the server has the headers: this request is in flight
    const closing = server.close();
    await sleep(100);
    // The rest of the in-flight request, and a second one pipelined behind it on the same connection.
    socket.write(body.slice(10) + head.replace('Content-Length', 'X-Second: 1\r\nContent-Length') + body);
    await ended;
    await closing;
  } finally {
    socket.destroy();
  }
  const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
  assert.match(first, /^HTTP\/1\.1 200 /, received);
  assert.match(second ?? '', /^HTTP\/1\.1 503 /, received);
  assert.match(second, /\r\nretry-after: 1\r\n/i);
  const reply = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as { error: string; code: string };
  assert.equal(reply.code, 'INLET_SINK_UNAVAILABLE');
  assert.match(reply.error, /shutting down/);
});
