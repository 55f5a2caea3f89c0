// Write keys are public in browsers and writes are authenticated by them, never by cookies, so any
// origin may post, with whatever request headers its SDK sends (RudderStack's sends AnonymousId,
// SentAt and, on retries, Rsa-Retry-Attempt...; Segment's X-Retry-Count). The preflight therefore
// allows the headers the browser asks for — bounded, so a preflight that asks for hundreds of
// names or kilobytes of them gets a short answer, not an echo — and is cached.
import type { FastifyInstance } from 'fastify';

/** Always allowed, whatever the browser asks. */
const BASE_HEADERS = ['Content-Type', 'Authorization', 'Content-Encoding'];
/** Bounds on what a preflight answer echoes. */
export const MAX_ALLOWED_HEADERS = 64;
const MAX_HEADER_NAME_LENGTH = 128;
/** RFC 9110 token: what a header name may be. Anything else is not echoed. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The header names to allow for a preflight's Access-Control-Request-Headers: ours, then the
 * requested names that are valid, deduplicated, at most MAX_ALLOWED_HEADERS in all. Names past
 * the bound are left out (the browser then refuses that request, which no real SDK makes).
 */
export function allowedHeaders(requested: string | undefined): string {
  const allowed = [...BASE_HEADERS];
  if (!requested) return allowed.join(', ');
  const seen = new Set(BASE_HEADERS.map((h) => h.toLowerCase()));
  // Look at a bounded prefix only: the list cannot be longer than the header itself, but a client
  // may send 16 KB of commas.
  const names = requested.slice(0, MAX_ALLOWED_HEADERS * (MAX_HEADER_NAME_LENGTH + 2)).split(',');
  for (const raw of names) {
    if (allowed.length >= MAX_ALLOWED_HEADERS) break;
    const name = raw.trim().toLowerCase();
    if (name.length === 0 || name.length > MAX_HEADER_NAME_LENGTH || !TOKEN.test(name) || seen.has(name)) continue;
    seen.add(name);
    allowed.push(name);
  }
  return allowed.join(', ');
}

export function registerCors(app: FastifyInstance): void {
  // Callback style, not async: it runs on every request, and an async hook costs a promise each time.
  app.addHook('onRequest', (request, reply, done) => {
    // Browsers hide Retry-After from cross-origin pages unless it is exposed; SDKs need it to back off.
    if (request.headers.origin !== undefined) reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', 'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset');
    done();
  });
  app.options('*', async (request, reply) => {
    const requested = request.headers['access-control-request-headers'];
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'GET, POST, OPTIONS')
      .header('access-control-allow-headers', allowedHeaders(Array.isArray(requested) ? requested.join(',') : requested))
      // Chromium caps this at 2 h, Firefox at 24 h; the answer differs by requested headers.
      .header('access-control-max-age', '86400')
      .header('vary', 'Access-Control-Request-Headers')
      .code(204)
      .send();
  });
}
