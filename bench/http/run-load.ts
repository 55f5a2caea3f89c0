// Runs one load job in a forked load-generator process while sampling the server's process over
// exactly the measured window (the load process says when the warm-up is over).
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { ProcessSampler } from '../lib/proc-stats.ts';
import type { LoadJob, LoadMessage, LoadResult } from './load.ts';

export interface MeasuredLoad {
  load: LoadResult;
  server: ReturnType<ProcessSampler['stop']>;
}

const LOAD_SCRIPT = resolve(import.meta.dirname, 'load.ts');

/** `onMeasuring` is called as the measured window starts (after the warm-up), for what must bracket just that window. */
export function runLoad(job: LoadJob, serverPid: number, onMeasuring?: () => void): Promise<MeasuredLoad> {
  const child = fork(LOAD_SCRIPT, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const sampler = new ProcessSampler(serverPid);
  let sampling = false;
  let sampled: MeasuredLoad['server'] | undefined;
  // Warm-up + measured window + generous slack for start-up and slow responses.
  const limitMs = (job.warmupSeconds + job.durationSeconds + (job.overload ? job.overload.baselineSeconds + job.overload.recoverySeconds : 0)) * 1000 + 60_000;
  return new Promise<MeasuredLoad>((resolvePromise, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, value?: MeasuredLoad) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      if (error) reject(error); else resolvePromise(value!);
    };
    const timer = setTimeout(() => finish(new Error(`load generator did not finish within ${limitMs} ms`)), limitMs);
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'measuring') { sampler.start(); sampling = true; onMeasuring?.(); return; }
      // The measured window is over but the job goes on (the overload cell's recovery run).
      if (message.type === 'measured') {
        try { if (sampling) sampled = sampler.stop(); } catch { /* the server died */ }
        sampling = false;
        return;
      }
      if (message.type === 'error') return finish(new Error(`load generator failed: ${message.message}`));
      let server = sampled ?? { cpuSeconds: NaN, mainThreadCpuSeconds: NaN, mainThreadWaitSeconds: NaN, cpu: NaN, peakRssBytes: NaN, cpuStall: NaN };
      try { if (sampling) server = sampler.stop(); } catch { /* the server died: its numbers are unknown */ }
      finish(undefined, { load: message.result, server });
    });
    child.once('exit', (code) => {
      if (sampling) try { sampler.stop(); } catch { /* server gone */ }
      finish(new Error(`load generator exited with code ${code} before reporting`));
    });
    child.send(job);
  });
}
