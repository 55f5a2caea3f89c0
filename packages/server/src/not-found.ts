// The answer to a request no route takes, on both listeners: a path that exists under another
// method gets 405 with Allow (the client used the wrong verb and learns which to use), any other
// path 404. Both carry a code from the catalogue. Fastify's hasRoute compares route patterns, not
// paths (/api/sources/:id is not found for /api/sources/src_1), so the routes are watched as they
// are added and matched here; registered before any route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from './errors.ts';
import { shorten } from './shorten.ts';

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

interface RoutePattern { method: string; path: RegExp }

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A route's URL as a pattern: `:name` one segment, a trailing `*` the rest. */
function patternOf(url: string): RegExp {
  const parts = url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : escape(part)));
  return new RegExp(`^${parts.join('/')}$`);
}

/** `alsoAllowed`: methods every path answers without a route of its own (the ingest listener's CORS preflight). */
export function registerNotFound(app: FastifyInstance, alsoAllowed: string[] = []): void {
  const routes: RoutePattern[] = [];
  app.addHook('onRoute', (route) => {
    const path = patternOf(route.url ?? route.path);
    // A preflight answers any path; it does not make one exist.
    for (const method of [route.method].flat()) if (method !== 'OPTIONS') routes.push({ method, path });
  });
  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0];
    const quoted = shorten(path, 100);
    const allowed = ORDER.filter((method) => routes.some((route) => route.method === method && route.path.test(path)));
    if (allowed.length > 0) {
      reply.header('allow', [...allowed, ...alsoAllowed].join(', ')).code(405);
      return { error: `Method ${request.method} not allowed on ${quoted}; use ${allowed.join(' or ')}`, code: Errors.methodNotAllowed.code };
    }
    reply.code(404);
    return { error: `Not found: ${request.method} ${quoted}`, code: Errors.notFound.code };
  });
}
