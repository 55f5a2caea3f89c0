// A node:http proxy in front of the real Inlet server. It forwards requests unchanged, except that
// `answer` may reply in the server's place (503, 429 with Retry-After...) — the way a failing
// server or load balancer looks to the browser. It records what crossed the wire.
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WireRequest {
  /** 1-based order of arrival among POSTs */
  n: number;
  at: number;
  status: number;
  contentType: string | undefined;
  messageIds: string[];
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
}

export interface Proxy {
  url: string;
  requests: WireRequest[];
  /** Decide per POST (1-based n): an Answer replies in place of the server; undefined forwards. */
  answer: (n: number) => Answer | undefined;
  /** Milliseconds to hold each POST before forwarding it. */
  delayMs: number;
  close(): Promise<void>;
}

function messageIds(body: string): string[] {
  try {
    return (JSON.parse(body).batch ?? []).map((e: { messageId: string }) => e.messageId);
  } catch {
    return [];
  }
}

export async function startProxy(target: string): Promise<Proxy> {
  const to = new URL(target);
  const proxy: Proxy = { url: '', requests: [], answer: () => undefined, delayMs: 0, close: async () => {} };
  let posts = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record: WireRequest | undefined = req.method === 'POST'
        ? { n: ++posts, at: Date.now(), status: 0, contentType: req.headers['content-type'], messageIds: messageIds(body.toString('utf8')) }
        : undefined;
      if (record) proxy.requests.push(record);
      const answer = record && proxy.answer(record.n);
      if (answer && record) {
        record.status = answer.status;
        res.writeHead(answer.status, {
          'access-control-allow-origin': '*',
          'access-control-expose-headers': 'Retry-After',
          'content-type': 'application/json',
          ...answer.headers,
        });
        return res.end(JSON.stringify({ error: 'from the test proxy' }));
      }
      const forward = () => {
        const headers: IncomingHttpHeaders = { ...req.headers, host: to.host };
        const upstream = httpRequest({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers }, (up) => {
          if (record) record.status = up.statusCode ?? 0;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.writeHead(502).end());
        upstream.end(body);
      };
      if (record && proxy.delayMs) setTimeout(forward, proxy.delayMs);
      else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return proxy;
}
