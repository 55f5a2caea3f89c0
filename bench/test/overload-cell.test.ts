// The overload cell says what its refusals cost the main thread; these check the two pieces that
// rest on: the main thread's own CPU, read apart from the worker threads', and the residual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { residualMicrosPerRefusal } from '../http/overload.ts';
import { cpuSeconds, mainThreadCpuSeconds, mainThreadWaitSeconds } from '../lib/proc-stats.ts';

/** Spins until this thread has used `micros` of CPU (not of wall time: the machine may be busy). */
function spin(micros: number): void {
  const start = process.threadCpuUsage();
  while (process.threadCpuUsage(start).user < micros) { /* busy */ }
}

test("a worker thread's CPU counts for the process but not for its main thread", async () => {
  const main0 = mainThreadCpuSeconds(process.pid);
  const all0 = cpuSeconds(process.pid);
  await new Promise((resolve, reject) => {
    new Worker(`(${spin})(500000)`, { eval: true }).once('exit', resolve).once('error', reject);
  });
  const mainUsed = mainThreadCpuSeconds(process.pid) - main0;
  const allUsed = cpuSeconds(process.pid) - all0;
  assert.ok(allUsed >= 0.45, `the process used ${allUsed} s while its worker spun for 0.5 s of CPU`);
  assert.ok(mainUsed < allUsed / 2, `the main thread used ${mainUsed} of ${allUsed} s while only the worker spun`);

  const before = mainThreadCpuSeconds(process.pid);
  spin(300_000);
  assert.ok(mainThreadCpuSeconds(process.pid) - before >= 0.25, 'a busy main thread shows in its own CPU');
});

test("the main thread's wait for a core grows when more threads spin than there are cores", async () => {
  const before = mainThreadWaitSeconds(process.pid);
  assert.ok(Number.isFinite(before), 'the kernel keeps the run delay (/proc/<pid>/task/<pid>/schedstat)');
  const cores = availableParallelism();
  const spinners = Array.from({ length: cores }, () => new Worker(`(${spin})(400000)`, { eval: true }));
  spin(400_000);
  await Promise.all(spinners.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
  assert.ok(mainThreadWaitSeconds(process.pid) - before > 0.02, 'sharing the cores with as many spinners, the main thread waited for one');
});

test('the residual per refusal: the main thread CPU the 2xx at their peak cost leave, over the refusals', () => {
  // 2 s of main-thread CPU; 1,000 2xx at 1,500 µs each; what is left over 2,000 refusals.
  assert.equal(residualMicrosPerRefusal(2, 1000, 1500, 2000), 250);
  assert.ok(Number.isNaN(residualMicrosPerRefusal(2, 1000, 1500, 0)), 'no refusals, no price');
  assert.ok(Number.isNaN(residualMicrosPerRefusal(1, 1000, 1500, 10)), '2xx dearer than the CPU used: not a price');
});
