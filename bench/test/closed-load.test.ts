// The closed loop of clients that honour Retry-After: a refused connection sends again only after
// the wait its 503 asked for, an accepted one at once. Without the wait this cell would measure
// the same clients as autocannon's W1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { retryAfterMs, runClosed } from '../http/closed-load.ts';

test('a refused connection waits as its Retry-After says before sending again; an accepted one sends at once', async () => {
  // Each connection's first request is refused with Retry-After: 0.5 (delay-seconds), every later one accepted.
  const arrivals = new Map<net.Socket, number[]>();
  const server = net.createServer((socket) => {
    arrivals.set(socket, []);
    socket.on('data', () => {
      const times = arrivals.get(socket)!;
      times.push(performance.now());
      socket.write(times.length === 1
        ? 'HTTP/1.1 503 Service Unavailable\r\nretry-after: 0.5\r\ncontent-length: 2\r\n\r\nno'
        : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const statuses: number[] = [];
  try {
    const result = await runClosed({
      host: '127.0.0.1', port, connections: 3, seconds: 1,
      request: () => Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'),
      onResponse: (_ms, status) => statuses.push(status),
    });
    assert.equal(arrivals.size, 3);
    for (const times of arrivals.values()) {
      assert.ok(times.length >= 3, `${times.length} requests on a connection`);
      assert.ok(times[1] - times[0] >= 480, `the resend came ${(times[1] - times[0]).toFixed(0)} ms after the refusal`);
      assert.ok(times[2] - times[1] < 250, `the request after an accepted one came ${(times[2] - times[1]).toFixed(0)} ms later`);
    }
    assert.equal(result.waits, 3);
    assert.equal(result.waitedMs, 1500);
    assert.equal(statuses.filter((s) => s === 503).length, 3);
    assert.ok(statuses.filter((s) => s === 200).length >= 6);
  } finally {
    server.close();
  }
});

test('a refused client whose connection the server closed still waits as told before it sends again, on a new connection', async () => {
  // The first request is refused with Retry-After: 0.5 and its connection closed (as a server does to
  // a body it will not read); every later one is accepted.
  const arrivals: number[] = [];
  const server = net.createServer((socket) => {
    socket.on('data', () => {
      arrivals.push(performance.now());
      if (arrivals.length === 1) socket.end('HTTP/1.1 503 Service Unavailable\r\nretry-after: 0.5\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  let made = 0;
  try {
    const result = await runClosed({
      host: '127.0.0.1', port, connections: 1, seconds: 1,
      request: () => { made++; return Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'); },
      onResponse: () => {},
    });
    assert.ok(arrivals.length >= 2, `${arrivals.length} requests arrived`);
    assert.ok(arrivals[1] - arrivals[0] >= 480, `the resend came ${(arrivals[1] - arrivals[0]).toFixed(0)} ms after the refusal`);
    assert.equal(result.errors, 0);
    const count = made;
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(made, count, 'no request is made once the run is over');
  } finally {
    server.close();
  }
});

test('only a 503 or 429 with delay-seconds asks for a wait', () => {
  assert.equal(retryAfterMs(503, 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\ncontent-length: 0'), 1000);
  assert.equal(retryAfterMs(429, 'HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\nx: y'), 2000);
  assert.equal(retryAfterMs(503, 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0'), 0);
  assert.equal(retryAfterMs(200, 'HTTP/1.1 200 OK\r\nretry-after: 1'), 0);
  // (an empty Retry-After does not borrow the next header's number)
  assert.equal(retryAfterMs(503, 'HTTP/1.1 503 Service Unavailable\r\nretry-after:\r\nx-count: 5'), 0);
});
