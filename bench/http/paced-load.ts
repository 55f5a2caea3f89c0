// Open-loop load at a fixed rate, evenly spaced: request i is due at start + i / rate, whatever
// the server is doing. Latency counts from when a request was due (so time spent waiting for a
// free connection counts too, no coordinated omission).
//
// autocannon's overallRate is not used for this: each of its connections sends its per-second
// quota back to back and then waits for the next one-second tick, so the whole rate arrives as
// one burst per second, and the "latency at half of peak" would measure how fast a burst drains.
import net from 'node:net';

export interface PacedOptions {
  host: string;
  port: number;
  /** a new full request (request line, headers, body) */
  request(): Buffer;
  rate: number;
  connections: number;
  seconds: number;
  /**
   * called for every response: latency from when it was due, its status, when it was due (ms after
   * the start), its head (status line and headers), and how late it was sent (waiting for a free
   * connection, or for this process's own loop)
   */
  onResponse(latencyMs: number, status: number, dueMs: number, head: string, lateMs: number): void;
}

export interface PacedResult {
  sent: number;
  completed: number;
  errors: number;
  /** requests still waiting for a free connection when the time was up */
  backlog: number;
  /**
   * responses on a connection with no request in flight: a server's 408 to a keep-alive connection
   * that sat idle past its headers timeout (with LIFO reuse at a low rate, some never send). They
   * answer no request, so they are neither completions nor latencies.
   */
  unsolicited: number;
  seconds: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection with at most one request in flight. */
class Connection {
  private readonly socket: net.Socket;
  private pending: Buffer = Buffer.alloc(0);
  private dueAt = 0;
  private sentAt = 0;
  busy = false;
  failed = false;
  private readonly done: (conn: Connection, dueAt: number, sentAt: number, status: number, head: string) => void;
  private readonly broken: (conn: Connection) => void;
  private readonly unasked: () => void;

  constructor(host: string, port: number, done: (conn: Connection, dueAt: number, sentAt: number, status: number, head: string) => void, broken: (conn: Connection) => void, unasked: () => void) {
    this.done = done;
    this.broken = broken;
    this.unasked = unasked;
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  send(request: Buffer, dueAt: number): void {
    this.busy = true;
    this.dueAt = dueAt;
    this.sentAt = performance.now();
    this.socket.write(request);
  }

  close(): void {
    this.failed = true;
    this.socket.destroy();
  }

  /** `broken` hears of every connection lost, busy or idle (a server may close idle ones too). */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.broken(this);
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const headerEnd = this.pending.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.pending.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) { this.socket.destroy(new Error('response without content-length')); return; }
    const total = headerEnd + 4 + Number(length[1]);
    if (this.pending.length < total) return;
    this.pending = this.pending.subarray(total);
    if (!this.busy) { this.unasked(); return; }
    this.busy = false;
    this.done(this, this.dueAt, this.sentAt, Number(head.slice(9, 12)), head);
  }
}

export function runPaced(o: PacedOptions): Promise<PacedResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const end = start + o.seconds * 1000;
    const intervalMs = 1000 / o.rate;
    let sent = 0;
    let completed = 0;
    let errors = 0;
    let unsolicited = 0;
    const waiting: number[] = []; // due times of requests with no free connection yet
    const idle: Connection[] = [];
    let finished = false;

    const dispatch = () => {
      while (waiting.length > 0 && idle.length > 0) {
        const conn = idle.pop()!;
        if (conn.failed) continue;
        conn.send(o.request(), waiting.shift()!);
        sent++;
      }
    };
    const onDone = (conn: Connection, dueAt: number, sentAt: number, status: number, head: string) => {
      completed++;
      o.onResponse(performance.now() - dueAt, status, dueAt - start, head, sentAt - dueAt);
      idle.push(conn);
      dispatch();
    };
    // A lost connection (a server that closes after a refusal, or a reset) is replaced, so the
    // offered load stays what was asked for; a request that was on it counts as an error.
    const open = (): Connection => new Connection(o.host, o.port, onDone, (lost) => {
      if (lost.busy) errors++;
      const at = connections.indexOf(lost);
      if (finished || at < 0) return;
      // After a short pause: a server that is gone must not turn this into a busy loop.
      setTimeout(() => {
        if (finished) return;
        connections[at] = open();
        idle.push(connections[at]);
        dispatch();
      }, 5);
    }, () => { unsolicited++; });
    const connections: Connection[] = [];
    for (let i = 0; i < o.connections; i++) connections.push(open());
    idle.push(...connections);

    let scheduled = 0;
    const tick = () => {
      const now = performance.now();
      if (now >= end) {
        finished = true;
        for (const c of connections) c.close();
        resolve({ sent, completed, errors, backlog: waiting.length, unsolicited, seconds: (now - start) / 1000 });
        return;
      }
      // Request k is due at start + k * interval, so requests 0..floor(elapsed / interval) are due now.
      const due = Math.floor((now - start) / intervalMs) + 1;
      for (; scheduled < due; scheduled++) waiting.push(start + scheduled * intervalMs);
      dispatch();
      if (!finished) setTimeout(tick, 1);
    };
    tick();
  });
}
