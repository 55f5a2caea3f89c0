// The bodies waiting for the main thread are taken in arrival order and in short slices, so the
// loop comes round to its sockets (and timers) between them however many wait; while they wait
// they are still within the budget of body bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { registerAdmission } from '../src/admission.ts';
import { registerBodyParsers } from '../src/body.ts';
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

test('a BodyQueue takes 40 bodies of 2 ms in arrival order, letting the loop come round between slices, and says how long the oldest has waited', async () => {
  const queue = new BodyQueue();
  const ran: number[] = [];
  for (let i = 0; i < 40; i++) queue.enqueue(() => { block(2); ran.push(i); });
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
  // 80 ms of bodies in slices of a few ms: the timer ran in between, many times.
  const between = timerSaw.filter((n) => n > 0 && n < 40);
  assert.ok(between.length >= 5, `the timer ran between slices ${between.length} times (${timerSaw.join(',')})`);
});

test("what a body's parse leaves to microtasks (the route's handler after an await) runs before the next body", async () => {
  const queue = new BodyQueue();
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

test('a body read and waiting for the main thread keeps its share of MAX_BODY_BYTES_IN_FLIGHT until it is parsed', async () => {
  const held: (() => void)[] = [];
  const app = Fastify({ forceCloseConnections: true });
  registerAdmission(app, { maxConnections: 100, maxBodyBytesInFlight: 100_000, maxBodyBytes: 60_000 }, createMetrics());
  registerBodyParsers(app, { maxBytes: 60_000, timeoutMs: 5000 }, { enqueue: (run) => held.push(run) });
  app.post('/x', async (request) => ({ events: ((request.body as { batch: unknown[] }).batch).length }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const body = (bytes: number) => JSON.stringify({ batch: [1, 2, 3], pad: 'x'.repeat(bytes - 30) });
    const post = (bytes: number) => request(url, '/x', { body: body(bytes), headers: { 'content-type': 'application/json' } });
    const first = post(50_000);
    await until(() => held.length === 1, 'the first body was read and waits');
    // 50 KB still waits: 60 KB more does not fit in 100 KB.
    const refused = await Promise.race([post(60_000), sleep(5000, undefined, { ref: false }).then(() => assert.fail('admitted beyond the budget: the second body was read while the first waited'))]);
    assert.equal(refused.status, 503, refused.text);
    held.shift()!();
    assert.equal((await first).status, 200);
    const second = post(60_000);
    await until(() => held.length === 1, 'parsed, the first body gave its bytes back: the second is read');
    held.shift()!();
    const reply = await second;
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json?.events, 3);
  } finally {
    for (const run of held.splice(0)) run();
    await app.close();
  }
});
