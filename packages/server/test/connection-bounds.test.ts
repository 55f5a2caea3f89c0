// Every connection to the public port is bounded in time (headers, body, whole request, idle
// keep-alive) and in memory (open connections, bytes of bodies being read at once): checked with a
// real server and raw sockets, the way slow and stalling clients behave.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { configWith } from '../src/config.ts';

const basic = (writeKey: string) => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

interface RawClient {
  socket: net.Socket;
  /** everything the server sent */
  received(): string;
  /** the status of the server's answer, once one came */
  status(): number | undefined;
  /** resolves with ms after connecting when the server answered or closed, or undefined after `withinMs` */
  ended(withinMs: number): Promise<number | undefined>;
  closed(): boolean;
}

function rawClient(url: string, head: string): Promise<RawClient> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let received = '';
  let endedAt: number | undefined;
  let closed = false;
  const started = performance.now();
  socket.on('data', (chunk) => { received += chunk.toString('latin1'); endedAt ??= performance.now(); });
  socket.on('error', () => undefined);
  socket.on('close', () => { closed = true; endedAt ??= performance.now(); });
  const client: RawClient = {
    socket,
    received: () => received,
    status: () => { const m = /^HTTP\/1\.1 (\d{3})/.exec(received); return m ? Number(m[1]) : undefined; },
    closed: () => closed,
    async ended(withinMs) {
      const deadline = performance.now() + withinMs;
      while (endedAt === undefined && performance.now() < deadline) await sleep(20);
      return endedAt === undefined ? undefined : endedAt - started;
    },
  };
  return new Promise((done, fail) => {
    socket.once('connect', () => { if (head) socket.write(head); done(client); });
    socket.once('error', fail);
  });
}

const post = (writeKey: string, headers: string) => `POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: ${basic(writeKey)}\r\n${headers}\r\n`;

function bodyOf(received: string): { code?: string; error?: string } {
  return JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as { code?: string; error?: string };
}

describe('time bounds', () => {
  let inlet: TestInlet;
  const clients: RawClient[] = [];
  before(async () => {
    inlet = await startInlet({ timeouts: { headersMs: 400, bodyMs: 500, requestMs: 1500, keepAliveMs: 500 } });
  });
  after(async () => {
    for (const c of clients) c.socket.destroy();
    await inlet.close();
  });

  test('a chunked body that never ends gets 408 once the body timeout has passed, and its connection is closed', async () => {
    const client = await rawClient(inlet.url, `${post(inlet.writeKey, 'Transfer-Encoding: chunked\r\n')}1\r\n{\r\n`);
    clients.push(client);
    const timer = setInterval(() => { if (client.socket.writable) client.socket.write('1\r\n \r\n'); }, 100);
    try {
      const ms = await client.ended(5000);
      assert.ok(ms !== undefined, 'the server answered');
      assert.ok(ms >= 450, `not before the bound (${ms} ms)`);
      assert.equal(client.status(), 408, client.received());
      assert.equal(bodyOf(client.received()).code, 'INLET_REQUEST_TIMEOUT');
      await sleep(200);
      assert.ok(client.closed(), 'the connection is closed');
    } finally {
      clearInterval(timer);
    }
  });

  test('a body sent a byte at a time gets 408 within the body timeout', async () => {
    const client = await rawClient(inlet.url, `${post(inlet.writeKey, 'Content-Length: 5000\r\n')}{`);
    clients.push(client);
    const timer = setInterval(() => { if (client.socket.writable) client.socket.write(' '); }, 100);
    try {
      const ms = await client.ended(5000);
      assert.ok(ms !== undefined && ms < 2000, `answered within the bound (${ms} ms)`);
      assert.equal(client.status(), 408, client.received());
    } finally {
      clearInterval(timer);
    }
  });

  test('headers that never end are cut off with 408 after the headers timeout', async () => {
    const client = await rawClient(inlet.url, 'POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    clients.push(client);
    let n = 0;
    const timer = setInterval(() => { if (client.socket.writable) client.socket.write(`X-Slow-${n++}: 1\r\n`); }, 100);
    try {
      const ms = await client.ended(5000);
      assert.ok(ms !== undefined && ms < 1500, `cut off within the bound (${ms} ms)`);
      assert.ok(client.status() === 408 || (client.status() === undefined && client.closed()), client.received());
    } finally {
      clearInterval(timer);
    }
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout, after a normal answer', async () => {
    const body = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'e' }] });
    const client = await rawClient(inlet.url, `${post(inlet.writeKey, `Content-Length: ${body.length}\r\n`)}${body}`);
    clients.push(client);
    await client.ended(5000);
    assert.equal(client.status(), 200, client.received());
    const opened = performance.now();
    while (!client.closed() && performance.now() - opened < 5000) await sleep(20);
    const idle = performance.now() - opened;
    assert.ok(client.closed(), 'closed');
    assert.ok(idle >= 300 && idle < 3000, `closed after about 500 ms idle (${Math.round(idle)} ms)`);
  });

  test('a request that arrives in time is served as usual', async () => {
    const res = await fetch(`${inlet.url}/v1/track`, { method: 'POST', headers: { authorization: basic(inlet.writeKey), 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'u', event: 'on time' }) });
    assert.equal(res.status, 200);
  });
});

describe('memory bounds', () => {
  let inlet: TestInlet;
  const clients: RawClient[] = [];
  const limits = { ...configWith().limits, maxBodyBytes: 10_000 };
  before(async () => {
    inlet = await startInlet({ limits, admission: { maxConnections: 6, maxBodyBytesInFlight: 25_000 }, timeouts: { headersMs: 5000, bodyMs: 10_000, requestMs: 20_000, keepAliveMs: 5000 } });
  });
  after(async () => {
    for (const c of clients) c.socket.destroy();
    await inlet.close();
  });

  test('past the bytes of bodies in flight, a request gets 503 with Retry-After at once; the budget returns when the stalled bodies go', async () => {
    // Two bodies declared as 10,000 bytes, half sent, then stalled: 20,000 of the 25,000 reserved.
    const stalled = await Promise.all([1, 2].map(() => rawClient(inlet.url, `${post(inlet.writeKey, 'Content-Length: 10000\r\n')}{${' '.repeat(4999)}`)));
    clients.push(...stalled);
    await sleep(200);
    const third = await rawClient(inlet.url, post(inlet.writeKey, 'Content-Length: 10000\r\n'));
    clients.push(third);
    const ms = await third.ended(2000);
    assert.ok(ms !== undefined && ms < 1000, `answered at once (${ms} ms)`);
    assert.equal(third.status(), 503, third.received());
    assert.match(third.received(), /\r\nretry-after: 1\r\n/i);
    assert.equal(bodyOf(third.received()).code, 'INLET_OVERLOADED');
    // A small body still fits.
    const small = await fetch(`${inlet.url}/v1/track`, { method: 'POST', headers: { authorization: basic(inlet.writeKey) }, body: JSON.stringify({ userId: 'u', event: 'small' }) });
    assert.equal(small.status, 200);

    for (const c of stalled) c.socket.destroy();
    await sleep(200);
    const big = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'e', properties: { pad: 'x'.repeat(8000) } }] });
    const res = await fetch(`${inlet.url}/v1/batch`, { method: 'POST', headers: { authorization: basic(inlet.writeKey) }, body: big });
    assert.equal(res.status, 200, 'a body as large as the stalled ones is read again');
  });

  test('a chunked body reserves as it grows: past the budget it gets 503 and its connection is closed', async () => {
    const holder = await rawClient(inlet.url, `${post(inlet.writeKey, 'Content-Length: 10000\r\n')}{`);
    const second = await rawClient(inlet.url, `${post(inlet.writeKey, 'Content-Length: 10000\r\n')}{`);
    clients.push(holder, second);
    await sleep(100);
    // 20,000 reserved; a chunked body can grow to 5,000 more, not 9,000.
    const chunked = await rawClient(inlet.url, post(inlet.writeKey, 'Transfer-Encoding: chunked\r\n'));
    clients.push(chunked);
    for (let i = 0; i < 9; i++) {
      if (!chunked.socket.writable) break;
      chunked.socket.write(`3e8\r\n${(i === 0 ? '{' : ' ').padEnd(1000, ' ')}\r\n`);
      await sleep(30);
    }
    await chunked.ended(2000);
    assert.equal(chunked.status(), 503, chunked.received());
    assert.equal(bodyOf(chunked.received()).code, 'INLET_OVERLOADED');
    holder.socket.destroy();
    second.socket.destroy();
  });

  test('past the connection cap a new connection is closed at once; a free slot serves again', async () => {
    await sleep(300); // the earlier tests' sockets are gone
    const open = await Promise.all(Array.from({ length: 6 }, () => rawClient(inlet.url, '')));
    clients.push(...open);
    await sleep(100);
    const extra = await rawClient(inlet.url, '');
    clients.push(extra);
    const ms = await extra.ended(2000);
    assert.ok(ms !== undefined && extra.closed(), 'the connection past the cap is closed');
    open[0].socket.destroy();
    await sleep(100);
    const res = await fetch(`${inlet.url}/v1/ping`);
    assert.equal(res.status, 204);
    for (const c of open) c.socket.destroy();
  });
});

describe('memory returned', () => {
  let inlet: TestInlet;
  const clients: RawClient[] = [];
  const MB = 1024 * 1024;
  before(async () => {
    inlet = await startInlet({ limits: { ...configWith().limits, maxBodyBytes: 2_000_000 }, admission: { maxConnections: 100, maxBodyBytesInFlight: 32 * MB }, timeouts: { headersMs: 5000, bodyMs: 20_000, requestMs: 30_000, keepAliveMs: 5000 } });
  });
  after(async () => {
    for (const c of clients) c.socket.destroy();
    await inlet.close();
  });

  test('the bytes of stalled bodies are given back as soon as their clients leave, not at some later garbage collection', async () => {
    // One buffer sent by every client, so the client side adds 1.5 MB, not 15.
    const filler = Buffer.alloc(1_500_000, 0x20);
    filler[0] = 0x7b; // {
    const held = () => process.memoryUsage().arrayBuffers;
    const start = held();
    for (let i = 0; i < 10; i++) {
      const client = await rawClient(inlet.url, post(inlet.writeKey, 'Content-Length: 2000000\r\n'));
      client.socket.write(filler);
      clients.push(client);
    }
    const deadline = performance.now() + 5000;
    while (held() - start < 12 * MB && performance.now() < deadline) await sleep(50);
    assert.ok(held() - start >= 12 * MB, `the server holds the stalled bodies (${((held() - start) / MB).toFixed(1)} MB)`);
    for (const c of clients.splice(0)) c.socket.destroy();
    await sleep(500);
    assert.ok(held() - start < 4 * MB, `${((held() - start) / MB).toFixed(1)} MB of bodies still held after the clients left`);
  });
});
