// The overload cell explains a goodput below target by what a refusal costs the main thread; these
// check the two pieces it rests on: the main thread's own CPU, and the bound derived from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { cpuSeconds, mainThreadCpuSeconds } from '@inlet/testkit/proc-stats';
import { goodputBound } from '../http/overload.ts';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy */ }
}

test("a worker thread's CPU counts for the process but not for its main thread", async () => {
  const main0 = mainThreadCpuSeconds(process.pid);
  const all0 = cpuSeconds(process.pid);
  await new Promise((resolve, reject) => {
    const worker = new Worker('const until = performance.now() + 600; while (performance.now() < until);', { eval: true });
    worker.once('exit', resolve).once('error', reject);
  });
  const mainUsed = mainThreadCpuSeconds(process.pid) - main0;
  const allUsed = cpuSeconds(process.pid) - all0;
  assert.ok(allUsed >= 0.4, `the process used ${allUsed} s`);
  assert.ok(mainUsed < allUsed / 2, `the main thread used ${mainUsed} of ${allUsed} s while only the worker spun`);

  const before = mainThreadCpuSeconds(process.pid);
  spin(400);
  assert.ok(mainThreadCpuSeconds(process.pid) - before >= 0.25, 'a busy main thread shows in its own CPU');
});

test('the goodput bound: free refusals keep the peak, a refusal at 1/11 of an accepted request keeps 90% at 2x', () => {
  assert.equal(goodputBound(2, 1000, 0), 1);
  assert.ok(Math.abs(goodputBound(2, 1100, 100) - 0.9) < 1e-9);
  // ρ = 0.16, as a W1 refusal measured against an accepted W1 request: (1 - 0.32) / 0.84
  assert.ok(Math.abs(goodputBound(2, 1000, 160) - 0.68 / 0.84) < 1e-9);
  assert.equal(goodputBound(2, 1000, 600), 0);
  assert.equal(goodputBound(2, 100, 150), 0);
  assert.ok(Number.isNaN(goodputBound(2, NaN, 10)));
});
