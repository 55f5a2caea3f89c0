// A switchable HTTP proxy in front of a real Inlet server: it counts and inspects the SDK's
// requests, and can play an outage (refused connections, 503s) or answer on the server's behalf.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { DropInfo, ServerAnalytics } from '@inlet/node';

export interface SeenRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  /** bytes on the wire and after gunzip */
  wireBytes: number;
  bodyBytes: number;
  events: number;
  sentAt: unknown;
}

export type Mode =
  | { kind: 'forward' }
  /** the connection is destroyed without an answer */
  | { kind: 'refuse' }
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: string }
  /** forwards a different body (to get the real server's answer to it) */
  | { kind: 'replace-body'; body: string };

export interface Proxy {
  url: string;
  port: number;
  requests: SeenRequest[];
  mode: Mode;
  /** modes to use for the next requests, one each, before falling back to `mode` */
  queue: Mode[];
  close(): Promise<void>;
}

export async function startProxy(target: string, port = 0): Promise<Proxy> {
  const targetUrl = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const proxy: Proxy = { url: '', port: 0, requests: [], mode: { kind: 'forward' }, queue: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
      let parsed: { batch?: unknown[]; sentAt?: unknown } = {};
      try { parsed = JSON.parse(body.toString('utf8')); } catch { /* counted as 0 events */ }
      proxy.requests.push({
        path: req.url ?? '',
        headers: req.headers,
        wireBytes: wire.length,
        bodyBytes: body.length,
        events: Array.isArray(parsed.batch) ? parsed.batch.length : 0,
        sentAt: parsed.sentAt,
      });
      const mode = proxy.queue.shift() ?? proxy.mode;
      if (mode.kind === 'refuse') {
        req.socket.destroy();
        return;
      }
      if (mode.kind === 'answer') {
        res.writeHead(mode.status, { 'content-type': 'application/json', ...mode.headers });
        res.end(mode.body ?? '{}');
        return;
      }
      const out = mode.kind === 'replace-body' ? Buffer.from(mode.body) : wire;
      const headers = { ...req.headers, host: targetUrl.host, 'content-length': String(out.length) };
      if (mode.kind === 'replace-body') delete headers['content-encoding'];
      const upstream = http.request(new URL(req.url ?? '/', targetUrl), { method: req.method, headers, agent }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => req.socket.destroy());
      upstream.end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = async () => {
    server.closeAllConnections();
    agent.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

/** Collects what an SDK instance reports. */
export function recorder(analytics: ServerAnalytics) {
  const drops: DropInfo[] = [];
  const errors: Error[] = [];
  analytics.on('drop', (d) => drops.push(d));
  analytics.on('error', (e) => errors.push(e));
  return { drops, errors, dropped: (reason: string) => drops.filter((d) => d.reason === reason).reduce((n, d) => n + d.count, 0) };
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
