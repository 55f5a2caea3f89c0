// The collect proxy, whatever the framework: takes a request for `${prefix}/...`, decides whether
// and where it may go (routes.ts), adds who the end user is (address, identity cookie) and streams
// it to the Inlet server; the answer is streamed back. Framework adapters (express.ts, fastify.ts,
// fetch.ts) turn their request into an Incoming and write the Answer.
//
// Bounded in every direction: the body is counted as it streams and cut at maxBodyBytes (nothing
// past the limit is forwarded or held), one timer bounds the whole exchange, and when Inlet cannot
// be reached the browser gets 503 with Retry-After at once — the app's own requests never wait on it.
// Nothing of a body or of the cookies is ever logged or reported.
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import { CLIENT_IP_HEADER, DEVICE_ID_HEADER, signClientIp } from '@inlet/schema';
import { CollectError, type CollectSettings } from './options.ts';
import { ROUTES, type Route } from './routes.ts';
import { clearedCookie, identityCookie, newDeviceId, readDeviceId } from './identity.ts';

export interface Incoming {
  method: string;
  /** the request target as received: origin-form ('/_i/v1/batch?x'); anything else is refused */
  target: string;
  header(name: string): string | undefined;
  /** the body, not yet read; or what a body parser already read; undefined when there is none */
  body: Readable | Buffer | string | undefined;
  clientIp: string | undefined;
  /** the page is https (decides the cookie's Secure attribute) */
  secure: boolean;
  /** the consent option, applied to this request */
  consent(): boolean | Promise<boolean>;
}

export interface Answer {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Readable | string | undefined;
  /** the browser's body was not read to its end: close the connection after the answer */
  close: boolean;
}

/** Request headers that go on to Inlet; everything else (cookies of the site above all) stays here. */
const FORWARD_REQUEST = ['content-type', 'content-encoding', 'content-length', 'authorization', 'user-agent', 'accept-encoding'];
/** Response headers that come back from Inlet. */
const FORWARD_RESPONSE = ['content-type', 'content-encoding', 'content-length', 'cache-control', 'vary', 'etag', 'last-modified', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];
const RETRY_AFTER_S = 5;

/** `Authorization: Basic base64("wk_...:")`, as SDKs that send their key in a header send it. */
function carriesWriteKey(header: string): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  return match !== null && Buffer.from(match[1], 'base64').toString('utf8').startsWith('wk_');
}

function refusal(status: number, code: string, message: string, extra: OutgoingHttpHeaders = {}, close = false): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra },
    body: JSON.stringify({ error: message, code }),
    close,
  };
}

const tooLarge = (max: number) => refusal(413, 'INLET_BODY_TOO_LARGE', `Body too large: the limit is ${max} bytes`, {}, true);

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

type BodyOutcome = 'done' | 'too-large' | 'aborted';

/**
 * Streams `source` into `sink`, counting; stops (without reading further) past `max` bytes.
 * Returns a function that stops it early. The source is paused, never destroyed: destroying a
 * server's request would take its socket, and with it the answer.
 */
function pumpBody(source: Readable, sink: ClientRequest, max: number, outcome: (o: BodyOutcome) => void): () => void {
  let bytes = 0;
  let finished = false;
  const finish = (o: BodyOutcome | undefined) => {
    if (finished) return;
    finished = true;
    source.off('data', onData).off('end', onEnd).off('close', onClose);
    sink.off('drain', onDrain);
    source.pause();
    if (o) outcome(o);
  };
  const onData = (chunk: Buffer | string) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (bytes > max) return finish('too-large');
    if (!sink.write(chunk)) source.pause();
  };
  const onDrain = () => { if (!finished) source.resume(); };
  const onEnd = () => {
    sink.end();
    finish('done');
  };
  const onClose = () => { if (!source.readableEnded) finish('aborted'); };
  // A client that goes away makes its stream error; the 'close' below is what we act on.
  source.on('error', () => {});
  source.on('data', onData).on('end', onEnd).on('close', onClose);
  sink.on('drain', onDrain);
  source.resume();
  return () => finish(undefined);
}

export class Collector {
  readonly #s: CollectSettings;

  constructor(settings: CollectSettings) {
    this.#s = settings;
  }

  get prefix(): string {
    return this.#s.prefix;
  }

  /** The request is under the prefix (also in absolute-form, so that it is refused rather than passed on). */
  owns(target: string): boolean {
    let path = pathOf(target);
    if (!path.startsWith('/')) {
      try {
        path = new URL(target).pathname;
      } catch {
        return false;
      }
    }
    return path === this.#s.prefix || path.startsWith(`${this.#s.prefix}/`);
  }

  async handle(incoming: Incoming): Promise<Answer> {
    const { prefix, maxBodyBytes } = this.#s;
    if (!incoming.target.startsWith('/')) return refusal(400, 'INLET_BAD_REQUEST', 'Only origin-form request targets are forwarded (no absolute URLs)');
    const path = pathOf(incoming.target);
    // Exact match, no decoding or normalization: '/_i/../admin', '/_i//v1/batch', '/_i/%2e%2e/x' match nothing.
    const route = path.startsWith(`${prefix}/`) ? ROUTES.get(path.slice(prefix.length)) : undefined;
    if (!route) return refusal(404, 'INLET_NOT_FOUND', `Not found: ${incoming.method} ${path.slice(0, 200)}`);
    if (!route.methods.includes(incoming.method)) {
      return refusal(405, 'INLET_METHOD_NOT_ALLOWED', `Method ${incoming.method} not allowed; use ${route.methods.join(' or ')}`, { allow: route.methods.join(', ') });
    }
    const declared = incoming.header('content-length');
    if (declared !== undefined && !(Number(declared) <= maxBodyBytes)) return tooLarge(maxBodyBytes);
    if (incoming.body !== undefined && !(incoming.body instanceof Readable) && Buffer.byteLength(incoming.body) > maxBodyBytes) return tooLarge(maxBodyBytes);

    const hasBody = incoming.method === 'POST';
    const headers: OutgoingHttpHeaders = {};
    for (const name of FORWARD_REQUEST) {
      const value = incoming.header(name);
      if (value !== undefined && (hasBody || !name.startsWith('content-'))) headers[name] = value;
    }
    // A browser adds the site's own Basic credentials (a staging site behind a password) to its
    // same-origin requests: sent on, Inlet would read the site's user name as the write key and
    // refuse every event. Only a write key goes on (Inlet makes them wk_...).
    if (typeof headers.authorization === 'string' && !carriesWriteKey(headers.authorization)) delete headers.authorization;
    if (hasBody && incoming.body !== undefined && !(incoming.body instanceof Readable)) {
      // A body parser read it: what is forwarded is the parsed body, plain.
      delete headers['content-encoding'];
      headers['content-length'] = Buffer.byteLength(incoming.body);
    }
    // Whatever a clientIp option returned goes into headers only when it is an address.
    const ip = incoming.clientIp !== undefined && isIP(incoming.clientIp) ? incoming.clientIp : undefined;
    if (ip !== undefined) {
      headers['x-forwarded-for'] = ip;
      if (this.#s.secret !== undefined) headers[CLIENT_IP_HEADER] = signClientIp(this.#s.secret, ip);
    }
    const setCookie = route.ingest ? await this.#identity(incoming, headers) : [];
    return this.#exchange(route, incoming, headers, setCookie);
  }

  /** Adds the device id for Inlet; returns the Set-Cookie headers of the answer. */
  async #identity(incoming: Incoming, headers: OutgoingHttpHeaders): Promise<string[]> {
    const scope = { path: this.#s.prefix, secure: incoming.secure };
    const existing = readDeviceId(incoming.header('cookie'));
    let consent = false;
    try {
      consent = (await incoming.consent()) === true;
    } catch (error) {
      // No answer is no consent.
      this.#s.onError(new CollectError('INLET_CONSENT_FAILED', `the consent function threw (${(error as Error)?.name ?? 'error'}); no identity cookie for this request`));
    }
    if (!consent) {
      headers[DEVICE_ID_HEADER] = newDeviceId();
      return existing === undefined ? [] : [clearedCookie(scope)];
    }
    const id = existing ?? newDeviceId();
    headers[DEVICE_ID_HEADER] = id;
    return [identityCookie(id, scope)];
  }

  #exchange(route: Route, incoming: Incoming, headers: OutgoingHttpHeaders, setCookie: string[]): Promise<Answer> {
    const { target, timeoutMs, maxBodyBytes } = this.#s;
    const where = `${incoming.method} ${pathOf(incoming.target)}`;
    const body = incoming.method === 'POST' ? incoming.body : undefined;
    return new Promise<Answer>((resolve) => {
      let answered = false;
      let bodyDone = !(body instanceof Readable);
      let timedOut = false;
      let stopBody = () => {};
      const answer = (a: Answer) => {
        if (answered) return;
        answered = true;
        if (setCookie.length > 0) a.headers['set-cookie'] = setCookie;
        resolve(a);
      };

      const upstream = this.#s.request({
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path: this.#s.basePath + route.upstream,
        method: incoming.method,
        headers,
        agent: this.#s.agent,
      });
      const timer = setTimeout(() => {
        timedOut = true;
        upstream.destroy(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);

      upstream.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        stopBody();
        if (answered) return;
        if (timedOut && !bodyDone) {
          answer(refusal(408, 'INLET_REQUEST_TIMEOUT', `The request body did not arrive within ${timeoutMs} ms`, {}, true));
          return;
        }
        const why = timedOut ? `no answer within ${timeoutMs} ms` : (error.code ?? error.message);
        this.#s.onError(new CollectError(timedOut ? 'INLET_UPSTREAM_TIMEOUT' : 'INLET_UPSTREAM_UNAVAILABLE', `${where}: Inlet at ${target.origin} ${timedOut ? 'did not answer' : 'cannot be reached'} (${why}); answered 503`));
        answer(refusal(503, 'INLET_UPSTREAM_UNAVAILABLE', 'The analytics server cannot be reached right now; retry later', { 'retry-after': String(RETRY_AFTER_S) }, !bodyDone));
      });

      upstream.on('response', (response: IncomingMessage) => {
        const close = !bodyDone;
        stopBody();
        // Errors of the answer's stream after this point (a timeout, Inlet going away) end the
        // browser's response through the adapter's pipeline; they must not be unhandled.
        response.on('error', () => {});
        response.once('close', () => {
          clearTimeout(timer);
          // Inlet answered before the whole body was sent: that request can never end, so its
          // connection cannot go back to the pool.
          if (close) upstream.destroy();
        });
        const out: OutgoingHttpHeaders = {};
        for (const name of FORWARD_RESPONSE) if (response.headers[name] !== undefined) out[name] = response.headers[name];
        const status = response.statusCode ?? 502;
        const empty = incoming.method === 'HEAD' || status === 204 || status === 304;
        if (empty) response.resume();
        answer({ status, headers: out, body: empty ? undefined : response, close });
      });

      if (!(body instanceof Readable)) {
        upstream.end(body);
        return;
      }
      stopBody = pumpBody(body, upstream, maxBodyBytes, (outcome) => {
        if (outcome === 'done') {
          bodyDone = true;
          return;
        }
        clearTimeout(timer);
        upstream.destroy();
        // Nothing past the limit was forwarded; Inlet saw an aborted request and stored nothing.
        if (outcome === 'too-large') answer(tooLarge(maxBodyBytes));
        else answer(refusal(400, 'INLET_BAD_REQUEST', 'The request was aborted', {}, true));
      });
    });
  }

  /** Closes the pooled connections to Inlet (when the agent is the collector's own). */
  close(): void {
    if (this.#s.ownAgent) this.#s.agent.destroy();
  }
}
