// CPU time and memory of a process from /proc (Linux). CPU covers every thread of the process,
// so worker threads (the SQLite writer) and libuv's pool count too.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux this runs on

/** user + system CPU seconds in a /proc stat file (a process's, or one thread's under task/) */
function statCpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // The command name (field 2) may hold spaces and parentheses; fields are counted after its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** user + system CPU seconds the process has used so far */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** user + system CPU seconds of the process's main thread (its JavaScript event loop) so far */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/**
 * Seconds the process's main thread has spent runnable but waiting for a core so far (the
 * scheduler's run delay, /proc/<pid>/task/<pid>/schedstat); NaN where the kernel does not keep it.
 */
export function mainThreadWaitSeconds(pid: number): number {
  try {
    const delayNanos = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return delayNanos / 1e9;
  } catch {
    return NaN;
  }
}

/** Each thread's CPU seconds so far, with its name (Node names its threads: MainThread, V8Worker, WorkerThread, libuv-worker). */
export function threadCpuSeconds(pid: number): { tid: number; name: string; seconds: number }[] {
  const threads: { tid: number; name: string; seconds: number }[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.push({ tid: Number(task), name: readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim(), seconds: statCpuSeconds(`/proc/${pid}/task/${task}/stat`) });
    } catch { /* the thread ended while we read */ }
  }
  return threads;
}

export interface Memory {
  rssBytes: number;
  /** the high-water mark of RSS over the process's life */
  peakRssBytes: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

/** Microseconds in which some runnable task waited for a CPU (Linux PSI), or undefined without PSI. */
export function cpuStallMicros(): number | undefined {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples a process over a measured window: CPU used between start() and stop(), and the highest
 * RSS seen (polled, and VmHWM at the end, whichever is larger).
 */
export class ProcessSampler {
  private startCpu = 0;
  private startMainCpu = 0;
  private startMainWait = 0;
  private startedAt = 0;
  private startStall: number | undefined;
  private peakRss = 0;
  private timer: NodeJS.Timeout | undefined;

  readonly pid: number;
  private readonly intervalMs: number;

  constructor(pid: number, intervalMs = 250) {
    this.pid = pid;
    this.intervalMs = intervalMs;
  }

  start(): void {
    this.startCpu = cpuSeconds(this.pid);
    this.startMainCpu = mainThreadCpuSeconds(this.pid);
    this.startMainWait = mainThreadWaitSeconds(this.pid);
    this.startedAt = performance.now();
    this.startStall = cpuStallMicros();
    this.peakRss = memory(this.pid).rssBytes;
    this.timer = setInterval(() => {
      try { this.peakRss = Math.max(this.peakRss, memory(this.pid).rssBytes); } catch { /* process gone */ }
    }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * cpu: cores in use on average over the window (1.0 = one core busy); mainThreadCpuSeconds: the
   * part of cpuSeconds spent on the main thread, and mainThreadWaitSeconds the time it was ready to
   * run but had no core; cpuStall: the share of the window in which some task on the machine waited
   * for a CPU (NaN without PSI).
   */
  stop(): { cpuSeconds: number; mainThreadCpuSeconds: number; mainThreadWaitSeconds: number; cpu: number; peakRssBytes: number; cpuStall: number } {
    clearInterval(this.timer);
    const used = cpuSeconds(this.pid) - this.startCpu;
    const usedByMain = mainThreadCpuSeconds(this.pid) - this.startMainCpu;
    const waitedByMain = mainThreadWaitSeconds(this.pid) - this.startMainWait;
    const seconds = (performance.now() - this.startedAt) / 1000;
    const mem = memory(this.pid);
    const stall = cpuStallMicros();
    const cpuStall = stall !== undefined && this.startStall !== undefined && seconds > 0 ? (stall - this.startStall) / 1e6 / seconds : NaN;
    return { cpuSeconds: used, mainThreadCpuSeconds: usedByMain, mainThreadWaitSeconds: waitedByMain, cpu: seconds > 0 ? used / seconds : 0, peakRssBytes: Math.max(this.peakRss, mem.peakRssBytes), cpuStall };
  }
}
