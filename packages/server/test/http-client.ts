// Small HTTP helpers for the server tests: raw bodies and headers exactly as given, no client-side
// rewriting, and replies read whole (a server that answers early still gets its status read).
import http from 'node:http';

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** the parsed JSON body, or undefined when there is none or it is not JSON */
  json: Record<string, unknown> | undefined;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
}

/** One request on its own connection. Resolves with the reply even when the server answered before reading the whole body. */
export function request(baseUrl: string, path: string, options: RawRequest = {}): Promise<RawReply> {
  const url = new URL(path, baseUrl);
  const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'POST',
      agent: false,
      headers: { ...(body && !options.headers?.['transfer-encoding'] ? { 'content-length': body.length } : {}), ...options.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> | undefined;
        try { json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    // An early answer (413, 415) may close the socket while the body is still going out; the
    // reply already received is what counts.
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

/** POST a JSON value with a write key in the Basic header (or no auth when key is undefined). */
export function postJson(baseUrl: string, path: string, value: unknown, writeKey?: string, headers: Record<string, string> = {}): Promise<RawReply> {
  return request(baseUrl, path, {
    body: JSON.stringify(value),
    headers: { 'content-type': 'application/json', ...(writeKey ? { authorization: basic(writeKey) } : {}), ...headers },
  });
}

export const basic = (writeKey: string) => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

/** A request to the admin listener with the admin token (or the given Authorization). */
export function adminRequest(adminUrl: string, token: string | undefined, path: string, options: { method?: string; body?: unknown; authorization?: string } = {}): Promise<RawReply> {
  const headers: Record<string, string> = {};
  const authorization = options.authorization ?? (token === undefined ? undefined : `Bearer ${token}`);
  if (authorization !== undefined) headers.authorization = authorization;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return request(adminUrl, path, { method: options.method ?? 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
}
