// The bodies waiting for the main thread are taken in arrival order and in short slices, so the
// loop comes round to its sockets (and timers) between them however many wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BodyQueue } from '../src/body-queue.ts';

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
