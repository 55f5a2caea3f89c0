// The one event both middlewares record, so Express and Fastify apps report requests alike.
import type { ServerAnalytics } from './analytics.ts';

export const REQUEST_EVENT = 'api_request_completed';

export interface CompletedRequest {
  userId: string | undefined;
  method: string;
  /** the route pattern when the framework knows it, else the path — never a query string */
  path: string;
  statusCode: number;
  durationMs: number;
}

/** `/a/b?x=1#y` → `/a/b`: query strings carry tokens and personal data, and explode cardinality. */
export function pathOnly(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

export function recordRequest(analytics: ServerAnalytics, request: CompletedRequest): void {
  if (request.userId === undefined || request.userId === '') return;
  analytics.track(request.userId, REQUEST_EVENT, {
    method: request.method,
    path: pathOnly(request.path),
    status_code: request.statusCode,
    duration_ms: Math.round(request.durationMs * 1000) / 1000,
  });
}

/** A userId callback that throws is the host's bug, but must not break its response. */
export function safeUserId<Req>(userId: (req: Req) => string | number | undefined | null, req: Req): string | undefined {
  try {
    const id = userId(req);
    return id === undefined || id === null || id === '' ? undefined : String(id);
  } catch {
    return undefined;
  }
}
