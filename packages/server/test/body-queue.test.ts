// The bodies waiting for the main thread are taken in arrival order and in short slices, so the
// loop comes round to its sockets (and timers) between them however many wait; while they wait
// they are still within the budget of body bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';
import Fastify from 'fastify';
import { registerAdmission } from '../src/admission.ts';
import { isLateBody, MAX_PARSE_WAIT_MS, registerBodyParsers } from '../src/body.ts';
import { BodyQueue } from '../src/body-queue.ts';
import { createMetrics } from '../src/metrics.ts';
import { request } from './http-client.ts';

/** Keeps the thread busy for `ms`. */
const block = (ms: number) => {
  const start = performance.now();
  while (performance.now() - start < ms) { /* busy */ }
};

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  assert.ok(condition(), what);
}

test('a BodyQueue takes 40 bodies of 2 ms in arrival order, letting the loop come round between slices, and says how long the oldest has waited and each one waited', async () => {
  const queue = new BodyQueue((error) => assert.fail(`a run threw: ${String(error)}`));
  const ran: number[] = [];
  const waits: number[] = [];
  for (let i = 0; i < 40; i++) queue.enqueue((waitedMs) => { block(2); ran.push(i); waits.push(waitedMs); });
  assert.deepEqual(ran, [], 'nothing is taken before the loop comes round');
  const timerSaw: number[] = [];
  const timer = setInterval(() => timerSaw.push(ran.length), 1);
  try {
    block(30);
    assert.ok(queue.waitMs >= 30, `the oldest waited ${queue.waitMs} ms`);
    await until(() => ran.length === 40, 'every body was taken');
  } finally {
    clearInterval(timer);
  }
  assert.deepEqual(ran, Array.from({ length: 40 }, (_, i) => i));
  assert.equal(queue.waitMs, 0, 'none waits');
  // Each run is told how long its body waited: the first at least the 30 ms the loop was held, the
  // last also behind the 78 ms of bodies ahead of it.
  assert.ok(waits[0] >= 30, `the first waited ${waits[0]} ms`);
  assert.ok(waits[39] >= waits[0] + 70, `the last waited ${waits[39]} ms`);
  // 80 ms of bodies in slices of a few ms: the timer ran in between, many times.
  const between = timerSaw.filter((n) => n > 0 && n < 40);
  assert.ok(between.length >= 5, `the timer ran between slices ${between.length} times (${timerSaw.join(',')})`);
});

test('a BodyQueue says whether large batches arrived more than a quarter faster than they were taken over its last window of half a second, and forgets an idle one', async () => {
  const queue = new BodyQueue((error) => assert.fail(`a run threw: ${String(error)}`));
  const verdictAfter = async (arrived: number, taken: number) => {
    for (let i = 0; i < arrived; i++) queue.arrived();
    for (let i = 0; i < taken; i++) queue.taken();
    await sleep(550);
    return queue.outpaced;
  };
  assert.equal(await verdictAfter(30, 10), true, 'three arrived per batch taken (the rest refused)');
  assert.equal(await verdictAfter(10, 10), false, 'a closed loop: as many arrived as were taken');
  assert.equal(await verdictAfter(20, 10), true, 'two per batch taken');
  assert.equal(await verdictAfter(12, 10), false, '1.2 per batch taken');
  assert.equal(await verdictAfter(30, 10), true);
  // Idle for two windows: what came before says nothing of what comes now.
  await sleep(1100);
  queue.arrived();
  assert.equal(queue.outpaced, false, 'a batch after an idle second is not an overload');
});

test("what a body's parse leaves to microtasks (the route's handler after an await) runs before the next body", async () => {
  const queue = new BodyQueue((error) => assert.fail(`a run threw: ${String(error)}`));
  const order: string[] = [];
  queue.enqueue(() => {
    order.push('a');
    void (async () => {
      await Promise.resolve();
      order.push('a handled');
    })();
  });
  queue.enqueue(() => order.push('b'));
  await until(() => order.length === 3, 'both were taken');
  assert.deepEqual(order, ['a', 'a handled', 'b']);
  // Idle, it starts again on the next body.
  queue.enqueue(() => order.push('c'));
  await until(() => order.length === 4, 'a body after an idle queue was taken');
});

test('a run that throws is reported and the bodies behind it are still taken', async () => {
  const errors: unknown[] = [];
  const queue = new BodyQueue((error) => errors.push(error));
  let ran = false;
  queue.enqueue(() => { throw new Error('a bug'); });
  queue.enqueue(() => { ran = true; });
  await until(() => ran, 'the body behind was taken');
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /a bug/);
});

/** A bare app with the body parsers and the admission budget, whose queue holds every body until the test runs it, and whose handler answers only once `open()` was called. */
async function heldApp() {
  const held: ((waitedMs: number) => void)[] = [];
  let handled = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const app = Fastify({ forceCloseConnections: true });
  registerAdmission(app, { maxConnections: 100, maxBodyBytesInFlight: 100_000, maxBodyBytes: 60_000 }, createMetrics());
  registerBodyParsers(app, { maxBytes: 60_000, timeoutMs: 5000 }, { enqueue: (run) => held.push(run) });
  app.post('/x', async (request) => {
    handled++;
    await gate;
    if (isLateBody(request.body)) return { late: true };
    return { events: ((request.body as { batch: unknown[] }).batch).length };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const body = (bytes: number) => JSON.stringify({ batch: [1, 2, 3], pad: 'x'.repeat(bytes - 30) });
  const post = (bytes: number) => request(url, '/x', { body: body(bytes), headers: { 'content-type': 'application/json' } });
  const close = async () => {
    open();
    for (const run of held.splice(0)) run(0);
    await app.close();
  };
  return { app, url, held, handled: () => handled, open, post, body, close };
}

test('a body read and waiting for the main thread keeps its share of MAX_BODY_BYTES_IN_FLIGHT until it is parsed, not until it is answered', async () => {
  const { held, open, post, close } = await heldApp();
  try {
    const first = post(50_000);
    await until(() => held.length === 1, 'the first body was read and waits');
    // 50 KB still waits: 60 KB more does not fit in 100 KB.
    const refused = await Promise.race([post(60_000), sleep(5000, undefined, { ref: false }).then(() => assert.fail('admitted beyond the budget: the second body was read while the first waited'))]);
    assert.equal(refused.status, 503, refused.text);
    held.shift()!(0); // parsed; its answer is held
    const second = post(60_000);
    await until(() => held.length === 1, 'parsed (not yet answered), the first body gave its bytes back: the second is read');
    open();
    held.shift()!(0);
    for (const reply of [await first, await second]) {
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json?.events, 3);
    }
  } finally {
    await close();
  }
});

test('a body whose client went away while it waited is not parsed, and its bytes go back to the budget', async () => {
  const { app, url, held, handled, open, post, body, close } = await heldApp();
  let closed = 0;
  app.server.on('connection', (socket) => socket.on('close', () => { closed++; }));
  try {
    const { port } = new URL(url);
    const client = net.connect(Number(port), '127.0.0.1');
    const payload = body(50_000);
    client.write(`POST /x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
    await until(() => held.length === 1, 'the body was read and waits');
    client.destroy();
    await until(() => closed === 1, 'the server saw the connection close');
    held.shift()!(0);
    assert.equal(handled(), 0, 'its handler never ran');
    // 60 KB fits again: the gone body's 50 KB were given back.
    const next = post(60_000);
    await until(() => held.length === 1, 'the next body was read');
    held.shift()!(0);
    assert.equal(handled(), 1);
    open();
    assert.equal((await next).status, 200);
  } finally {
    await close();
  }
});

test('a body whose turn comes after MAX_PARSE_WAIT_MS is not parsed and gives its share of MAX_BODY_BYTES_IN_FLIGHT back at once', async () => {
  const { held, open, post, close } = await heldApp();
  try {
    const first = post(50_000);
    await until(() => held.length === 1, 'the first body was read and waits');
    held.shift()!(MAX_PARSE_WAIT_MS + 1); // its turn, late; its answer is held
    // 60 KB more fits in 100 KB only if the late body's 50 KB went back when its turn came.
    const second = post(60_000);
    await until(() => held.length === 1, 'the late body gave its bytes back: the second is read');
    held.shift()!(MAX_PARSE_WAIT_MS); // on time, just
    open();
    assert.deepEqual((await first).json, { late: true });
    assert.deepEqual((await second).json, { events: 3 });
  } finally {
    await close();
  }
});
