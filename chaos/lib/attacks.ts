// Misbehaving clients on raw sockets: what an attacker (or a broken client) does to a server that
// puts no bound on how long a request may take to arrive. Each one records when the server
// answered (and with what) or closed the connection.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

export interface Attacker {
  startedAt: number;
  /** status line of the server's answer, if one came */
  status?: number;
  answeredAt?: number;
  closedAt?: number;
  /** bytes of the request written to the socket so far */
  written: number;
  /** answered or closed */
  ended(): boolean;
  /** when the server ended it (answer or close), ms after it started */
  endedAfter(): number | undefined;
  stop(): void;
}

const basic = (writeKey: string) => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

function attacker(port: number, head: string, after: (socket: net.Socket, self: Attacker) => (() => void) | void): Attacker {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let stopTicking: (() => void) | void;
  const self: Attacker = {
    startedAt: performance.now(),
    written: 0,
    ended: () => self.answeredAt !== undefined || self.closedAt !== undefined,
    endedAfter: () => {
      const at = Math.min(self.answeredAt ?? Infinity, self.closedAt ?? Infinity);
      return Number.isFinite(at) ? at - self.startedAt : undefined;
    },
    stop: () => {
      stopTicking?.();
      socket.destroy();
    },
  };
  socket.on('data', (chunk) => {
    if (self.answeredAt !== undefined) return;
    received += chunk.toString('latin1');
    const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
    if (match) {
      self.status = Number(match[1]);
      self.answeredAt = performance.now();
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    self.closedAt ??= performance.now();
    stopTicking?.();
  });
  socket.once('connect', () => {
    socket.write(head);
    self.written += head.length;
    stopTicking = after(socket, self);
  });
  return self;
}

function every(ms: number, tick: () => void): () => void {
  const timer = setInterval(tick, ms);
  return () => clearInterval(timer);
}

/** A chunked body that never ends: one 1-byte chunk a second, forever. */
export function neverEndingChunked(port: number, writeKey: string): Attacker {
  const head = `POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${basic(writeKey)}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`;
  return attacker(port, head, (socket, self) => every(1000, () => {
    if (socket.writable) { socket.write('1\r\n \r\n'); self.written += 6; }
  }));
}

/** A 500 KB body (as declared) sent at one byte a second. */
export function trickle(port: number, writeKey: string, declared = 500_000): Attacker {
  const head = `POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${basic(writeKey)}\r\nContent-Length: ${declared}\r\n\r\n{`;
  return attacker(port, head, (socket, self) => every(1000, () => {
    if (socket.writable) { socket.write(' '); self.written += 1; }
  }));
}

/** Headers that never end: one more header line a second (slowloris). */
export function slowHeaders(port: number): Attacker {
  const head = 'POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n';
  let n = 0;
  return attacker(port, head, (socket, self) => every(1000, () => {
    if (socket.writable) { const line = `X-Slow-${n++}: 1\r\n`; socket.write(line); self.written += line.length; }
  }));
}

/**
 * A body declared as `declared` bytes of which `send` are sent at once, then nothing: the server
 * holds what arrived until the rest comes. `filler` is shared by every attacker (one buffer, not
 * one per connection, so the attack costs the attacker little memory).
 */
export function stalledBody(port: number, writeKey: string, declared: number, filler: Buffer): Attacker {
  const head = `POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${basic(writeKey)}\r\nContent-Length: ${declared}\r\n\r\n`;
  return attacker(port, head, (socket, self) => {
    socket.write(filler, () => { self.written += filler.length; });
  });
}

/** JSON whitespace after an opening brace: a body prefix that stays valid however much of it arrives. */
export function fillerBody(bytes: number): Buffer {
  const buffer = Buffer.alloc(bytes, 0x20);
  buffer[0] = 0x7b; // {
  return buffer;
}

/** Waits until every attacker has ended or `boundMs` has passed. */
export async function waitForAttackers(attackers: Attacker[], boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (performance.now() < deadline && !attackers.every((a) => a.ended())) await new Promise((r) => setTimeout(r, 100));
}

/** "3 of 5 answered (408) or cut off, the last after 31.2 s; 2 had no answer after 45.0 s" */
export function attackOutcome(attackers: Attacker[], boundMs: number): { ended: number; slowestMs: number; text: string } {
  const ended = attackers.filter((a) => a.ended());
  const statuses = [...new Set(ended.map((a) => (a.status === undefined ? 'closed' : String(a.status))))].join(', ');
  const slowestMs = Math.max(0, ...ended.map((a) => a.endedAfter()!));
  const parts = [`${ended.length} of ${attackers.length} answered or cut off${ended.length ? ` (${statuses}), the last after ${(slowestMs / 1000).toFixed(1)} s` : ''}`];
  if (ended.length < attackers.length) parts.push(`${attackers.length - ended.length} had no answer after ${(boundMs / 1000).toFixed(0)} s`);
  return { ended: ended.length, slowestMs, text: parts.join('; ') };
}

/** A write key of the right shape that no source has. */
export const randomKey = () => `wk_${randomBytes(24).toString('base64url')}`;

/** `total` requests, each with a write key never seen before, `concurrency` at a time on keep-alive connections. */
export async function floodWithRandomKeys(url: string, total: number, concurrency: number): Promise<{ statuses: Map<number | string, number>; ms: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = new Map<number | string, number>();
  const body = '{"batch":[]}';
  const one = () => new Promise<void>((done) => {
    const req = http.request(`${url}/v1/batch`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Basic ${Buffer.from(`${randomKey()}:`).toString('base64')}` },
    }, (res) => {
      res.resume();
      res.on('end', () => { statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1); done(); });
    });
    req.setTimeout(15_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (e: { code?: string }) => { statuses.set(e.code ?? 'error', (statuses.get(e.code ?? 'error') ?? 0) + 1); done(); });
    req.end(body);
  });
  const started = performance.now();
  let sent = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (sent < total) { sent++; await one(); } }));
  agent.destroy();
  return { statuses, ms: performance.now() - started };
}
