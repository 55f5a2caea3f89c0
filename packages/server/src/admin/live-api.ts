// GET /api/live: the live view's server-sent events. `event: stored` / `event: failed` carry the
// JSON as stored; `event: dropped` says how many this viewer did not get. A viewer's queue is its
// socket's buffer, bounded: past MAX_BUFFERED bytes events for it are dropped (and counted) until
// it drains, so a slow browser costs the server nothing but a counter.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Errors } from '../errors.ts';
import { type LiveEvent, type LiveFilter, type LiveHub, type Viewer } from '../live/live-hub.ts';
import { asParams, oneOf, optionalString } from './params.ts';

const MAX_BUFFERED = 512 * 1024;
const HEARTBEAT_MS = 15_000;
/**
 * How often a stream asks whether its token or session still lets it in: a rotated admin token
 * ends every session within 5 s (the token's cache), and its streams within this more.
 */
export const REAUTHORIZE_MS = 2000;
const TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;

class SseViewer implements Viewer {
  readonly filter: LiveFilter;
  private readonly res: ServerResponse;
  private dropped = 0;
  private corked = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(res: ServerResponse, filter: LiveFilter) {
    this.res = res;
    this.filter = filter;
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('drain', () => this.tellDropped());
  }

  send(event: LiveEvent): void {
    if (this.res.writableLength > MAX_BUFFERED) { this.dropped++; return; }
    this.tellDropped();
    this.write(`event: ${event.kind}\ndata: ${event.json}\n\n`);
  }

  lost(count: number): void {
    this.dropped += count;
    this.tellDropped();
  }

  private tellDropped(): void {
    if (this.dropped === 0 || this.res.writableLength > MAX_BUFFERED) return;
    this.write(`event: dropped\ndata: {"dropped":${this.dropped}}\n\n`);
    this.dropped = 0;
  }

  private write(text: string): void {
    // Before the headers (the origin is still starting) nothing is sent: the stream is not open yet.
    if (!this.res.headersSent || this.res.writableEnded || this.res.destroyed) return;
    // The hub sends a read's events one by one: held until the tick ends, they leave in one
    // socket write rather than one system call (and one chunk) each.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => { this.corked = false; this.res.uncork(); });
    }
    this.res.write(text);
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (!this.res.writableEnded) this.res.end();
  }

  stop(): void {
    clearInterval(this.heartbeat);
  }
}

export function registerLiveApi(app: FastifyInstance, hub: LiveHub): void {
  // A HEAD would get the stream's headers never (Node writes no body to it, and the stream only has one).
  app.head('/api/live', async (_request, reply) => {
    reply.header('allow', 'GET').code(405);
    return { error: 'Method HEAD not allowed on /api/live; use GET (a stream of server-sent events)', code: Errors.methodNotAllowed.code };
  });
  app.get('/api/live', { exposeHeadRoute: false }, async (request, reply) => {
    const query = asParams(request.query);
    const filter: LiveFilter = {
      sourceId: optionalString(query, 'source'),
      type: oneOf(query, 'type', TYPES),
      name: optionalString(query, 'event'),
      user: optionalString(query, 'user'),
    };
    if (hub.viewerCount >= hub.maxViewers) throw Errors.tooManyViewers(5);
    reply.hijack();
    const res = reply.raw;
    const viewer = new SseViewer(res, filter);
    const stillAuthorized = request.stillAuthorized;
    const reauthorize = stillAuthorized && setInterval(() => {
      stillAuthorized().then((ok) => { if (!ok) viewer.close(); }, () => viewer.close());
    }, REAUTHORIZE_MS);
    res.on('close', () => { clearInterval(reauthorize); viewer.stop(); hub.leave(viewer); });
    const joined = await hub.join(viewer);
    // Gone, or ended by the re-check (its token rotated) while the origin was starting.
    if (res.destroyed || res.writableEnded) { hub.leave(viewer); return; }
    if (!joined) {
      // Others joined between the check and now.
      viewer.stop();
      const error = Errors.tooManyViewers(5);
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '5' });
      res.end(JSON.stringify({ error: error.message, code: error.code }));
      return;
    }
    // The headers go once the origin follows: a page that sees the stream open sees what is stored from then on.
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Proxies in front of the admin listener must not hold the stream back.
      'x-accel-buffering': 'no',
    });
    res.write(': ready\n\n');
  });
}
