// The admin listener: a second Fastify instance on its own address (127.0.0.1:8081 by default),
// apart from the public ingest port. Everything on it needs the admin token (Authorization:
// Bearer), never a write key: the admin API (sources, plans, failed events, stats) and /metrics.
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { OutcomeSource } from '../accounting.ts';
import { errorReply, toInletError } from '../error-reply.ts';
import { Errors } from '../errors.ts';
import type { FailedStore } from '../failed/failed-store.ts';
import type { Metrics } from '../metrics.ts';
import type { PlanService } from '../plans/plan-service.ts';
import { registerMetricsRoute } from '../routes/ops.ts';
import type { SourceStore } from '../sources/source-store.ts';
import { registerFailedApi } from './failed-api.ts';
import { registerPlansApi } from './plans-api.ts';
import { registerSourcesApi } from './sources-api.ts';
import { registerStatsApi } from './stats-api.ts';
import type { AdminTokens } from './token.ts';

export interface AdminDeps {
  tokens: AdminTokens;
  sources: SourceStore;
  failed: FailedStore;
  outcomes: OutcomeSource;
  plans: PlanService;
  metrics: Metrics;
  logger: Logger;
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

export function buildAdminApp(deps: AdminDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Request logs would carry the Authorization header's neighbourhood; errors are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (request, reply) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    const ok = match !== null && (await deps.tokens.verify(match[1]));
    if (ok) return;
    deps.metrics.adminAuthFailures.inc();
    reply.header('www-authenticate', 'Bearer realm="inlet-admin"');
    throw match ? Errors.invalidAdminToken() : Errors.adminTokenRequired();
  });

  registerSourcesApi(app, deps.sources);
  registerFailedApi(app, deps.failed);
  registerStatsApi(app, deps.outcomes);
  registerPlansApi(app, deps.plans);
  registerMetricsRoute(app, deps.metrics);

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    return errorReply(request, reply, toInletError(error), error, 'admin request failed');
  });

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    return { error: `Not found: ${request.method} ${request.url.split('?')[0]}`, code: Errors.notFound.code };
  });
  return app;
}
