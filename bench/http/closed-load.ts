// A closed loop whose clients do as a refusal says: each connection sends its next request as soon
// as the last is answered, except after a 503 or 429 with Retry-After, when it first waits that
// long. That is what Inlet's SDKs do (and Segment's Node SDK backs off); autocannon, which runs the
// other closed-loop cells, sends a refused request again at once, so each refusal brings another
// arrival at once. With both in one run, what a refusal rule costs each kind of client is measured
// rather than guessed (bench/LOG.md, "2026-12-06, 16:30 UTC session").
import { Connection } from './raw-connection.ts';

export interface ClosedOptions {
  host: string;
  port: number;
  /** a new full request (request line, headers, body) */
  request(): Buffer;
  connections: number;
  seconds: number;
  /** called for every response: latency from when it was sent, its status and its head */
  onResponse(latencyMs: number, status: number, head: string): void;
}

export interface ClosedResult {
  completed: number;
  errors: number;
  /** refusals a connection waited after, and for how long in all (ms) */
  waits: number;
  waitedMs: number;
  seconds: number;
}

const RETRY_AFTER = /\r\nretry-after:[ \t]*(\d+(?:\.\d+)?)[ \t]*$/im;

/** How long a refusal asks its client to wait, in ms (0: not a refusal, or no delay-seconds given). */
export function retryAfterMs(status: number, head: string): number {
  if (status !== 503 && status !== 429) return 0;
  const match = RETRY_AFTER.exec(head);
  return match ? Number(match[1]) * 1000 : 0;
}

export function runClosed(o: ClosedOptions): Promise<ClosedResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    let completed = 0;
    let errors = 0;
    let waits = 0;
    let waitedMs = 0;
    let finished = false;
    const timers = new Set<NodeJS.Timeout>();
    /** per connection slot: not before this (performance.now()) may it send, so a wait outlives the connection it was asked on */
    const notBefore: number[] = [];

    const whileRunningAfter = (ms: number, then: () => void) => {
      const timer = setTimeout(() => { timers.delete(timer); if (!finished) then(); }, ms);
      timers.add(timer);
    };
    const send = (conn: Connection) => {
      if (finished || conn.failed) return;
      conn.send(o.request(), performance.now());
    };
    const onDone = (conn: Connection, _dueAt: number, sentAt: number, status: number, head: string) => {
      completed++;
      o.onResponse(performance.now() - sentAt, status, head);
      const wait = retryAfterMs(status, head);
      if (wait === 0) { send(conn); return; }
      waits++;
      waitedMs += wait;
      notBefore[connections.indexOf(conn)] = performance.now() + wait;
      whileRunningAfter(wait, () => send(conn));
    };
    // A lost connection is replaced (after a short pause, so a server that is gone is not hammered,
    // and not before a wait asked on it is over); a request that was on it counts as an error.
    const open = (): Connection => new Connection(o.host, o.port, onDone, (lost) => {
      if (lost.busy) errors++;
      const at = connections.indexOf(lost);
      if (finished || at < 0) return;
      whileRunningAfter(Math.max(5, (notBefore[at] ?? 0) - performance.now()), () => { connections[at] = open(); send(connections[at]); });
    }, () => {});
    const connections: Connection[] = [];
    for (let i = 0; i < o.connections; i++) connections.push(open());
    for (const conn of connections) send(conn);

    setTimeout(() => {
      finished = true;
      for (const timer of timers) clearTimeout(timer);
      for (const c of connections) c.close();
      resolve({ completed, errors, waits, waitedMs, seconds: (performance.now() - start) / 1000 });
    }, o.seconds * 1000);
  });
}
