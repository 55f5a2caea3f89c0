// Express middleware: one `api_request_completed` event per finished request of a known user.
// Only types come from express, so the SDK does not depend on it at run time.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ServerAnalytics } from './analytics.ts';
import { recordRequest, safeUserId } from './request-event.ts';

export interface InletExpressOptions {
  /** who made the request; called when the response has finished, so auth middleware has run */
  userId: (req: Request) => string | number | undefined | null;
  /**
   * The path to record, when the default is not right: Express keeps the pattern of the matched
   * route but not of the routers it is mounted under, so `app.use('/shops/:shop', router)`
   * reports the mount as requested (`/shops/acme/orders/:id`). The query string is cut off
   * from whatever this returns.
   */
  path?: (req: Request) => string | undefined;
}

/** The route pattern (`/users/:id`) when a route matched; otherwise the URL's path. */
function defaultPath(req: Request): string {
  const pattern: unknown = req.route?.path;
  if (typeof pattern === 'string') return `${req.baseUrl}${pattern}`;
  return req.originalUrl ?? req.url;
}

function safePath(path: (req: Request) => string | undefined, req: Request): string | undefined {
  try {
    const p = path(req);
    return typeof p === 'string' && p !== '' ? p : undefined;
  } catch {
    return undefined;
  }
}

export function inletExpress(analytics: ServerAnalytics, options: InletExpressOptions): RequestHandler {
  if (typeof options?.userId !== 'function') throw new TypeError('inletExpress: options.userId must be a function (req) => userId');
  const { userId } = options;
  const path = options.path === undefined ? defaultPath : (req: Request) => safePath(options.path!, req) ?? defaultPath(req);
  return function inletRequestTracking(req: Request, res: Response, next: NextFunction): void {
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
