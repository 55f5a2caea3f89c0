// The overload cell says what its refusals cost the main thread; these check the two pieces that
// rest on: the main thread's own CPU, read apart from the worker threads', and the residual. Both it
// and the half-peak run read the server's own counters from /metrics, checked here too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { bucketQuantile, histogramBuckets, refusalsByBound, refusedBetween, sinkBound, sinkWriteMsBetween } from '../http/admin.ts';
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

test("the overload cell reads the server's refusals by bound and its sink write time from /metrics as prom-client writes them", async () => {
  const { Counter, Histogram, Registry } = await import('prom-client');
  const registry = new Registry();
  const refusals = new Counter({ name: 'inlet_overload_refusals_total', help: 'h', labelNames: ['bound'], registers: [registry] });
  const writes = new Histogram({ name: 'inlet_sink_write_seconds', help: 'h', labelNames: ['outcome'], buckets: [0.01, 0.1, 0.25, 0.5], registers: [registry] });
  refusals.labels('loop').inc(3);
  writes.labels('stored').observe(0.005);
  writes.labels('failed').observe(2); // another outcome: not counted
  const before = await registry.metrics();
  refusals.labels('loop').inc(4);
  refusals.labels('late').inc(2);
  for (let i = 0; i < 98; i++) writes.labels('stored').observe(0.05);
  writes.labels('stored').observe(0.3);
  writes.labels('stored').observe(0.4);
  const after = await registry.metrics();

  assert.deepEqual(refusalsByBound(after), new Map([['loop', 7], ['late', 2]]));
  refusals.labels('sink').inc(0); // a bound with none in between is left out
  assert.deepEqual(refusedBetween(before, await registry.metrics()), new Map([['loop', 4], ['late', 2]]));
  const [b, a] = [before, after].map((text) => histogramBuckets(text, 'inlet_sink_write_seconds', 'outcome="stored"'));
  assert.equal(a.get(Infinity), 101);
  // Of the 100 written in between, 98 took 50 ms and 2 took 300-400 ms.
  assert.equal(bucketQuantile(b, a, 0.5), 0.1);
  assert.equal(bucketQuantile(b, a, 0.98), 0.1);
  assert.equal(bucketQuantile(b, a, 0.99), 0.5);
  assert.ok(Number.isNaN(bucketQuantile(a, a, 0.5)), 'nothing written in between');
  assert.deepEqual(sinkWriteMsBetween(before, after), { p50: 100, p99: 500 });
});

test("the half-peak column names the sink's p99 bucket when the server has one, and nothing when it has none", () => {
  assert.equal(sinkBound(10), ', sink ≤ 10');
  assert.equal(sinkBound(2.5), ', sink ≤ 2.5', 'the bucket as the server names it, not rounded to another');
  assert.equal(sinkBound(0.5), ', sink ≤ 0.5');
  assert.equal(sinkBound(Infinity), ', sink ≤ ∞');
  assert.equal(sinkBound(undefined), '', 'a baseline without /metrics');
  assert.equal(sinkBound(NaN), '', 'nothing written in the run');
});
