// The three shapes of app that inletCollect serves, each on 127.0.0.1 and a free port, with one
// page of their own (GET /) so tests can show the app is unaffected; plus raw-socket requests for
// what fetch() cannot send (dot segments, absolute-form targets, other Host headers), and stand-ins
// for an Inlet server that counts bytes or never answers.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import express from 'express';
import Fastify from 'fastify';
import { inletCollect, type InletCollectFastifyOptions, type InletCollectOptions } from '@inlet/node';

export type Kind = 'express' | 'fastify' | 'fetch';

export interface App {
  kind: Kind;
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface AppSetup {
  /** HTML for GET / */
  page?: string;
  /** Express only: middleware registered before inletCollect (e.g. a body parser) */
  before?: express.RequestHandler[];
  /** Express only: app.set('trust proxy', ...) */
  trustProxy?: boolean;
}

const DEFAULT_PAGE = '<!doctype html><title>app</title><p>the app itself</p>';

function listening(server: http.Server): Promise<{ url: string; port: number }> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ url: `http://127.0.0.1:${port}`, port });
  }));
}

function closing(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startExpressApp(options: InletCollectOptions<express.Request>, setup: AppSetup = {}): Promise<App> {
  const app = express();
  if (setup.trustProxy) app.set('trust proxy', true);
  for (const middleware of setup.before ?? []) app.use(middleware);
  app.use(inletCollect(options));
  app.get('/', (_req, res) => { res.type('html').send(setup.page ?? DEFAULT_PAGE); });
  const server = http.createServer(app);
  const { url, port } = await listening(server);
  return { kind: 'express', url, port, close: () => closing(server) };
}

export async function startFastifyApp(options: InletCollectFastifyOptions, setup: AppSetup = {}): Promise<App> {
  const app = Fastify();
  await app.register(inletCollect.fastify, options);
  app.get('/', async (_request, reply) => reply.type('text/html').send(setup.page ?? DEFAULT_PAGE));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    kind: 'fastify',
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/**
 * A fetch-style handler behind the kind of Node adapter that frameworks such as Next.js run:
 * IncomingMessage → Request (X-Forwarded-For gets the peer's address appended, as a platform's
 * edge does), Response → ServerResponse. Requests under /_i go to the handler, GET / is the page.
 */
export async function startFetchApp(options: InletCollectOptions<Request>, setup: AppSetup = {}): Promise<App> {
  const handle = inletCollect.handler(options);
  const prefix = options.path ?? '/_i';
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(setup.page ?? DEFAULT_PAGE);
      return;
    }
    if (path !== prefix && !path.startsWith(`${prefix}/`)) {
      res.writeHead(404).end();
      return;
    }
    let request: Request;
    try {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
      const forwarded = headers.get('x-forwarded-for');
      headers.set('x-forwarded-for', forwarded ? `${forwarded}, ${req.socket.remoteAddress}` : req.socket.remoteAddress!);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url}`, {
        method: req.method,
        headers,
        body: hasBody ? (Readable.toWeb(req) as unknown as ReadableStream) : undefined,
        duplex: 'half',
      } as RequestInit);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const response = await handle(request);
    const head: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => { if (name !== 'set-cookie') head[name] = value; });
    const cookies = response.headers.getSetCookie();
    if (cookies.length) head['set-cookie'] = cookies;
    res.writeHead(response.status, head);
    if (response.body) Readable.fromWeb(response.body as WebReadableStream).pipe(res);
    else res.end();
  });
  const { url, port } = await listening(server);
  return { kind: 'fetch', url, port, close: () => closing(server) };
}

export function startApp(kind: Kind, options: InletCollectOptions<any>, setup: AppSetup = {}): Promise<App> {
  if (kind === 'express') return startExpressApp(options, setup);
  if (kind === 'fastify') return startFastifyApp(options, setup);
  return startFetchApp(options, setup);
}

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** Sends bytes as they are (no URL normalization, any Host) and reads the answer: until `Content-Length` is read, the last chunk, or the server closes. */
export function rawRequest(port: number, text: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    const done = () => {
      socket.destroy();
      const split = data.indexOf('\r\n\r\n');
      const head = split < 0 ? data : data.slice(0, split);
      let body = split < 0 ? '' : data.slice(split + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(head)) body = body.replace(/(^|\r\n)[0-9a-f]+\r\n/gi, '');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body });
    };
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const split = data.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(data.slice(0, split))?.[1];
      if (split < 0) return;
      if (length !== undefined ? Buffer.byteLength(data.slice(split + 4)) >= Number(length) : data.endsWith('\r\n0\r\n\r\n')) done();
    });
    socket.on('end', done);
    socket.on('error', reject);
    socket.setTimeout(10_000, () => reject(new Error('raw request timed out')));
  });
}

export interface Target {
  url: string;
  /** requests seen: path, bytes of body received before the request ended or was aborted */
  seen: { path: string; bytes: number; aborted: boolean; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** A stand-in for Inlet that reads and counts bodies and answers 200 — or, with `hang`, never answers. */
export async function startTarget(hang = false): Promise<Target> {
  const seen: Target['seen'] = [];
  const server = http.createServer((req, res) => {
    const entry = { path: req.url ?? '', bytes: 0, aborted: false, headers: req.headers };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => { entry.bytes += chunk.length; });
    req.on('error', () => {});
    req.on('close', () => { if (!req.complete) entry.aborted = true; });
    req.on('end', () => { if (!hang) res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":0,"rejected":0,"errors":[]}'); });
  });
  const { url } = await listening(server);
  return { url, seen, close: () => closing(server) };
}

/** Parses Set-Cookie headers into name → attributes. */
export function cookieOf(setCookie: string[] | string | null | undefined, name = 'inlet_id'): { value: string; attributes: Record<string, string | true> } | undefined {
  const all = setCookie === null || setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  for (const line of all) {
    const [pair, ...rest] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) !== name) continue;
    const attributes: Record<string, string | true> = {};
    for (const a of rest) {
      const i = a.indexOf('=');
      attributes[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? true : a.slice(i + 1);
    }
    return { value: pair.slice(eq + 1), attributes };
  }
  return undefined;
}
