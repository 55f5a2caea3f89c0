// POSTs batches to an Inlet server's /v1/batch (Segment-compatible), gzipped, over keep-alive
// connections. Each event was serialized once, at track() time; a body is the strings joined.
import http from 'node:http';
import https from 'node:https';
import { gzip } from 'node:zlib';
import type { InletEvent } from '@inlet/schema';
import type { TransportSettings } from '../settings.ts';
import { LIBRARY } from '../version.ts';
import { parseRetryAfter } from '../backoff.ts';
import type { Prepared, SendOutcome, Transport } from './transport.ts';

type HttpSettings = Extract<TransportSettings, { kind: 'http' }>;

/** Bodies smaller than this are sent as they are: gzip would cost more than it saves. */
const GZIP_MIN_BYTES = 1024;
/** Enough of an error body to say why; the rest is discarded. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export class HttpTransport implements Transport<string> {
  readonly itemOverheadBytes = 1;
  readonly maxInFlight: number;
  readonly #settings: HttpSettings;
  readonly #maxEventBytes: number;
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #auth: string;
  readonly #requests = new Set<http.ClientRequest>();

  constructor(settings: HttpSettings, maxEventBytes: number) {
    this.#settings = settings;
    this.#maxEventBytes = maxEventBytes;
    this.maxInFlight = settings.maxInFlight;
    const base = settings.endpoint.href.endsWith('/') ? settings.endpoint.href : `${settings.endpoint.href}/`;
    this.#url = new URL('v1/batch', base);
    const secure = this.#url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: settings.maxInFlight, maxFreeSockets: settings.maxInFlight };
    this.#agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.#request = secure ? https.request : http.request;
    this.#auth = `Basic ${Buffer.from(`${settings.writeKey}:`).toString('base64')}`;
  }

  prepare(event: InletEvent): Prepared<string> {
    let json: string;
    try {
      json = JSON.stringify(event);
    } catch (error) {
      // circular structures, BigInt values
      return { ok: false, reason: 'invalid', message: `event is not serializable: ${(error as Error).message}` };
    }
    const bytes = Buffer.byteLength(json);
    // The server's limit is on the event as sent, this JSON: what it adds does not count.
    if (bytes > this.#maxEventBytes) {
      return { ok: false, reason: 'too-large', message: `event is ${bytes} bytes, more than the ${this.#maxEventBytes} allowed` };
    }
    return { ok: true, item: json, bytes };
  }

  send(items: string[]): Promise<SendOutcome> {
    // sentAt is stamped per attempt, so the server's clock-skew correction sees the real send time
    // (a browser source's; a server source's time is taken as given).
    const body = `{"batch":[${items.join(',')}],"sentAt":"${new Date().toISOString()}"}`;
    if (!this.#settings.gzip || body.length < GZIP_MIN_BYTES) return this.#post(Buffer.from(body), false);
    return new Promise((resolve) => {
      gzip(body, { level: this.#settings.gzipLevel }, (error, compressed) => {
        if (error) resolve(this.#post(Buffer.from(body), false));
        else resolve(this.#post(compressed, true));
      });
    });
  }

  #post(body: Buffer, gzipped: boolean): Promise<SendOutcome> {
    return new Promise((resolve) => {
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
        Authorization: this.#auth,
        'User-Agent': `${LIBRARY.name}/${LIBRARY.version}`,
      };
      if (gzipped) headers['Content-Encoding'] = 'gzip';
      let settled = false;
      const finish = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.#requests.delete(req);
        resolve(outcome);
      };
      const req = this.#request(this.#url, { method: 'POST', agent: this.#agent, headers });
      this.#requests.add(req);
      // One deadline for the whole exchange, response body included. The socket's own `timeout`
      // only notices idleness: a server that trickles a byte now and then would hold the batch
      // (and flush()) forever. Timing out is like any network error: the batch is retried.
      const timeoutMs = this.#settings.requestTimeoutMs;
      const deadline = setTimeout(() => {
        finish({ ok: false, retry: true, message: `network error: no complete response within ${timeoutMs} ms` });
        req.destroy();
      }, timeoutMs);
      deadline.unref();
      req.on('error', (error) => finish({ ok: false, retry: true, message: `network error: ${error.message}` }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (error) => finish({ ok: false, retry: true, message: `network error: ${error.message}` }));
        res.on('end', () => finish(outcomeOf(res, Buffer.concat(chunks).toString('utf8'))));
      });
      req.end(body);
    });
  }

  async close(force: boolean): Promise<void> {
    if (force) for (const req of this.#requests) req.destroy(new Error('shutting down'));
    this.#agent.destroy();
  }
}

function parseBody(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function outcomeOf(res: http.IncomingMessage, text: string): SendOutcome {
  const status = res.statusCode ?? 0;
  const body = parseBody(text);
  if (status >= 200 && status < 300) {
    const rejected = typeof body?.rejected === 'number' ? body.rejected : 0;
    if (rejected === 0) return { ok: true, rejected: 0 };
    return { ok: true, rejected, message: firstError(body) };
  }
  const reason = typeof body?.error === 'string' ? body.error : text.slice(0, 200) || res.statusMessage || '';
  const message = `HTTP ${status}${reason ? `: ${reason}` : ''}`;
  const retry = status === 408 || status === 429 || status >= 500;
  const retryAfterMs = retry ? parseRetryAfter(res.headers['retry-after']) : undefined;
  // The server's body limits are configurable (MAX_BODY_BYTES): a 413 can come below our own
  // maxBatchBytes, and then halves of the batch may pass where the whole did not.
  const tooLarge = status === 413;
  return { ok: false, retry, status, message, ...(tooLarge ? { tooLarge } : {}), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/** The server's first per-event error, so a 'drop' says why without carrying any payload. */
function firstError(body: Record<string, unknown> | undefined): string | undefined {
  const errors = body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const first = errors[0] as { errors?: unknown };
  return Array.isArray(first?.errors) ? first.errors.map(String).join('; ') : undefined;
}
