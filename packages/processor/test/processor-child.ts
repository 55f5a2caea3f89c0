// A processor running as its own process (bin/inlet-process.js), for tests and benches that kill
// it: its log lines, and its transaction count read from its /metrics endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '@inlet/testkit';

export const PROCESSOR_BIN = resolve(import.meta.dirname, '../bin/inlet-process.js');

export interface LogLine {
  msg?: string;
  [field: string]: unknown;
}

export class ProcessorChild {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #metricsPort = 0;
  /** the last lines of output, prefixed with the instance id and pid, for failure reports */
  readonly tail: string[] = [];
  /** every JSON log line of the current process */
  logs: LogLine[] = [];
  startedAt = 0;
  readonly instanceId: string;
  readonly args: string[];
  readonly bin: string;

  constructor(instanceId: string, args: string[], bin = PROCESSOR_BIN) {
    this.instanceId = instanceId;
    this.args = args;
    this.bin = bin;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts a new process (a restart after kill()); its logs start empty. */
  async start(): Promise<void> {
    this.#metricsPort = await freePort();
    const args = [this.bin, ...this.args, '--instance-id', this.instanceId, '--metrics-port', String(this.#metricsPort), '--metrics-host', '127.0.0.1'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.logs = [];
    this.startedAt = Date.now();
    let partial = '';
    const keep = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        this.tail.push(`${this.instanceId}[${child.pid}] ${line}`);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line (a stack trace, say): kept in the tail only
        }
      }
      if (this.tail.length > 80) this.tail.splice(0, this.tail.length - 80);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#exited = new Promise((done) => child.once('exit', () => done()));
    this.#child = child;
  }

  /** Committed transactions of the running process, or undefined while its metrics server is not up. */
  async transactions(): Promise<number | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.#metricsPort}/metrics`, { signal: AbortSignal.timeout(1000) });
      const match = /^inlet_processor_transactions_total (\d+)$/m.exec(await response.text());
      return match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The log lines with this message, e.g. 'partitions assigned'. */
  logged(msg: string): LogLine[] {
    return this.logs.filter((line) => line.msg === msg);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
