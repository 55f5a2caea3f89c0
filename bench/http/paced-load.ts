// Open-loop load at a fixed rate, evenly spaced: request i is due at start + i / rate, whatever
// the server is doing. Latency counts from when a request was due (so time spent waiting for a
// free connection counts too, no coordinated omission).
//
// autocannon's overallRate is not used for this: each of its connections sends its per-second
// quota back to back and then waits for the next one-second tick, so the whole rate arrives as
// one burst per second, and the "latency at half of peak" would measure how fast a burst drains.
import { Connection } from './raw-connection.ts';

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
