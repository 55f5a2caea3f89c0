// Tracking plans over the admin API: put (a new version), get, history, delete, infer, typegen.
// The plan's body is read as text under its own parser, whatever its Content-Type: the size is
// the plan's own limit, and a planned event named "__proto__" stays a name (Fastify's JSON parser
// refuses such keys everywhere else).
import type { FastifyInstance } from 'fastify';
import { Errors } from '../errors.ts';
import { MAX_PLAN_BYTES } from '../plans/plan.ts';
import type { PlanService } from '../plans/plan-service.ts';
import { asParams, integerIn, optionalBoolean, optionalTime } from './params.ts';

type WithId = { Params: { id: string } };

const versionParam = (query: unknown): number | undefined => {
  const params = asParams(query);
  return params.version === undefined || params.version === '' ? undefined : integerIn(params, 'version', 0, 1, 2 ** 31 - 1);
};

export function registerPlansApi(app: FastifyInstance, plans: PlanService): void {
  app.get<WithId>('/api/sources/:id/plan', async (request) => ({ plan: await plans.get(request.params.id, versionParam(request.query)) }));

  app.get<WithId>('/api/sources/:id/plan/history', async (request) => ({ versions: await plans.history(request.params.id) }));

  app.delete<WithId>('/api/sources/:id/plan', async (request) => ({ plan: await plans.delete(request.params.id) }));

  app.get<WithId>('/api/sources/:id/plan/infer', async (request) => {
    const sinceMs = optionalTime(asParams(request.query), 'since') ?? Date.now() - 7 * 86_400_000;
    return plans.infer(request.params.id, sinceMs);
  });

  app.get<WithId>('/api/sources/:id/plan/typegen', async (request, reply) => {
    const typescript = await plans.typegen(request.params.id, versionParam(request.query));
    reply.type('text/plain; charset=utf-8');
    return typescript;
  });

  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Up to four times the limit is read, so a plan a little too large is told its size.
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4 * MAX_PLAN_BYTES }, (_request, body, done) => done(null, body));
    scope.put<WithId>('/api/sources/:id/plan', async (request, reply) => {
      const text = typeof request.body === 'string' ? request.body : '';
      if (text.trim() === '') throw Errors.invalidPlan('the body is empty; send the plan as JSON');
      if (optionalBoolean(asParams(request.query), 'dryRun')) {
        await plans.source(request.params.id);
        const { summary } = await plans.check(text);
        return { dryRun: true, summary };
      }
      const version = await plans.put(request.params.id, text);
      reply.code(201);
      return { plan: version };
    });
  });
}
