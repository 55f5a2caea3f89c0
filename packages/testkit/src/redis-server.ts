// A throwaway redis-server of a test's own on a free port, so the test can kill, freeze and
// restart it without touching the shared Redis on 6379.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

export class ChildRedis {
  process: ChildProcess | undefined;
  readonly port: number;

  constructor(port: number) {
    this.port = port;
  }

  /** On a free port the OS picks; tried again on another if a different process takes it first. */
  static async start(): Promise<ChildRedis> {
    for (let attempt = 1; ; attempt++) {
      const child = new ChildRedis(await freePort());
      try {
        await child.start();
        return child;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  }

  /** Starts (or restarts, on the same port) the server; resolves once it accepts connections. */
  async start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.process = proc;
    let exited = false;
    proc.once('exit', () => { exited = true; });
    proc.once('error', () => { exited = true; });
    const deadline = Date.now() + 5000;
    while (!(await accepting(this.port))) {
      if (exited) throw new Error(`redis-server on port ${this.port} exited at start (is redis-server installed?)`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await sleep(20);
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.process?.pid !== undefined && this.process.exitCode === null) process.kill(this.process.pid, sig);
  }

  async kill(): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  }
}
