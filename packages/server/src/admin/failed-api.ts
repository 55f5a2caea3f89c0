// Failed events over the admin API: list (newest first, paged), show, replay (with a dry run).
import type { FastifyInstance } from 'fastify';
import { Errors } from '../errors.ts';
import { InvalidCursorError, type FailedFilter, type FailedStore } from '../failed/failed-store.ts';
import { FAILURE_REASONS } from '../failed/reasons.ts';
import { asParams, integerIn, oneOf, optionalBoolean, optionalString, optionalTime, type Params } from './params.ts';

function filterOf(params: Params): FailedFilter {
  return {
    sourceId: optionalString(params, 'source'),
    reason: optionalString(params, 'reason', 64),
    sinceMs: optionalTime(params, 'since'),
    untilMs: optionalTime(params, 'until'),
    status: oneOf(params, 'status', ['failed', 'replayed', 'all'] as const),
  };
}

export function registerFailedApi(app: FastifyInstance, failed: FailedStore): void {
  app.get('/api/failed/reasons', async () => ({ reasons: FAILURE_REASONS }));

  app.get('/api/failed', async (request) => {
    const query = asParams(request.query);
    return failed.list(filterOf(query), integerIn(query, 'limit', 100, 1, 1000), optionalString(query, 'before', 64)).catch((error: unknown) => {
      throw error instanceof InvalidCursorError ? Errors.invalidParameter(`before: ${error.message} (use the "next" of the page before)`) : error;
    });
  });

  app.get<{ Params: { id: string } }>('/api/failed/:id', async (request) => {
    const entry = await failed.get(request.params.id);
    if (!entry) throw Errors.failedEventNotFound(request.params.id);
    return entry;
  });

  app.post('/api/failed/replay', async (request) => {
    const body = asParams(request.body);
    return failed.replay({ ...filterOf(body), status: 'failed' }, { dryRun: optionalBoolean(body, 'dryRun') ?? false });
  });

  app.post<{ Params: { id: string } }>('/api/failed/:id/replay', async (request) => {
    const entry = await failed.get(request.params.id);
    if (!entry) throw Errors.failedEventNotFound(request.params.id);
    return failed.replay({ id: entry.id, status: 'failed' }, { dryRun: optionalBoolean(asParams(request.body), 'dryRun') ?? false });
  });
}
