// GET /api/sources/:id/plan/violations?since=1h: how often the source's events broke its plan
// lately, per event name (flagged and blocked); see ../plans/violation-counts.ts.
import type { FastifyInstance } from 'fastify';
import { Errors } from '../errors.ts';
import type { FailedStore } from '../failed/failed-store.ts';
import type { EventSamples } from '../plans/event-samples.ts';
import { countViolations } from '../plans/violation-counts.ts';
import type { SourceStore } from '../sources/source-store.ts';
import { asParams, optionalTime } from './params.ts';

export function registerPlanViolationsApi(app: FastifyInstance, deps: { sources: SourceStore; failed: FailedStore; samples?: EventSamples }): void {
  app.get<{ Params: { id: string } }>('/api/sources/:id/plan/violations', async (request) => {
    const sinceMs = optionalTime(asParams(request.query), 'since') ?? Date.now() - 3600_000;
    if (!(await deps.sources.list()).some((s) => s.id === request.params.id)) throw Errors.sourceNotFound(request.params.id);
    return countViolations(deps, request.params.id, sinceMs);
  });
}
