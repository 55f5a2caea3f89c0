// Express middleware: one `api_request_completed` event per finished request of a known user.
// Nothing comes from express, not even types (see frameworks.ts): it is an optional peer.
import type { ServerResponse } from 'node:http';
import type { ExpressRequest as Request, NextFunction } from './frameworks.ts';
import type { ServerAnalytics } from './analytics.ts';
import { pathOnly, recordRequest, safeUserId } from './request-event.ts';

export interface InletExpressOptions {
  /** who made the request; called when the response has finished, so auth middleware has run */
  userId(req: Request): string | number | undefined | null;
  /**
   * The path to record, when the default is not right: Express keeps the pattern of the matched
   * route but not of the routers it is mounted under, so `app.use('/shops/:shop', router)`
   * reports the mount as requested (`/shops/acme/orders/:id`). The query string is cut off
   * from whatever this returns.
   */
  path?(req: Request): string | undefined;
}

/** The route pattern (`/users/:id`) when a route matched; otherwise the URL's path. */
function defaultPath(req: Request): string {
  const pattern: unknown = req.route?.path;
  if (typeof pattern === 'string') return `${mountPath(req, pattern)}${pattern}`;
  return req.originalUrl ?? req.url;
}

/**
 * Where the router holding the matched route is mounted (`/shop/orders`, or '' for the app).
 * req.baseUrl says so while the request is inside that router, but when a handler fails Express
 * has reset it by the time the response finishes: to '' after the app's error handler, to
 * undefined after its default one. Then the mount is what the URL holds before the route's own
 * segments — when they can be told apart: each a literal that matches, or a `:param`.
 */
function mountPath(req: Request, pattern: string): string {
  const baseUrl: unknown = req.baseUrl;
  const fallback = typeof baseUrl === 'string' ? baseUrl : '';
  if (fallback !== '') return fallback;
  const own = pattern.split('/').filter(Boolean);
  const url = pathOnly(req.originalUrl ?? req.url).split('/').filter(Boolean);
  if (url.length <= own.length) return fallback;
  const tail = url.slice(url.length - own.length);
  const matches = own.every((segment, i) => /^:\w+$/.test(segment) || segment.toLowerCase() === tail[i].toLowerCase());
  return matches ? `/${url.slice(0, url.length - own.length).join('/')}` : fallback;
}

function safePath(path: (req: Request) => string | undefined, req: Request): string | undefined {
  try {
    const p = path(req);
    return typeof p === 'string' && p !== '' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Express's middleware shape; `app.use()` takes it. */
export type InletExpressMiddleware = (req: Request, res: ServerResponse, next: NextFunction) => void;

export function inletExpress(analytics: ServerAnalytics, options: InletExpressOptions): InletExpressMiddleware {
  if (typeof options?.userId !== 'function') throw new TypeError('inletExpress: options.userId must be a function (req) => userId');
  const { userId } = options;
  const path = options.path === undefined ? defaultPath : (req: Request) => safePath(options.path!, req) ?? defaultPath(req);
  return function inletRequestTracking(req, res, next) {
    const start = performance.now();
    res.once('finish', () => {
      recordRequest(analytics, {
        userId: safeUserId(userId, req),
        method: req.method,
        path: path(req),
        statusCode: res.statusCode,
        durationMs: performance.now() - start,
      });
    });
    next();
  };
}
