import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Accounting } from './accounting.ts';
import { registerAdmission } from './admission.ts';
import { Authenticator } from './auth.ts';
import { registerBodyParsers } from './body.ts';
import { BodyQueue, type BodyWait } from './body-queue.ts';
import { clientIp } from './client-ip.ts';
import { registerNotFound } from './not-found.ts';
import { proxiedClientIp } from './collect-proxy.ts';
import type { Config } from './config.ts';
import { trustedProxyList } from './config.ts';
import { registerCors } from './cors.ts';
import { Errors } from './errors.ts';
import { errorReply, toInletError } from './error-reply.ts';
import type { RateLimiter } from './limits/rate-limiter.ts';
import { SourceBudgets } from './limits/source-budget.ts';
import { UnauthenticatedLimiter } from './limits/unauthenticated-limiter.ts';
import type { Metrics } from './metrics.ts';
import type { PlanLookup } from './plans/registry.ts';
import { INGEST_ROUTES, registerIngestRoutes } from './routes/ingest.ts';
import { readiness, registerMetricsRoute, registerOpsRoutes } from './routes/ops.ts';
import { createRefusedBodies } from './routes/refused-bodies.ts';
import { registerSdkRoute } from './routes/sdk.ts';
import { registerSourceConfigRoute } from './routes/source-config.ts';
import type { Sink } from './sinks/sink.ts';
import type { SourceStore } from './sources/source-store.ts';
import { answerClientError, answerFrameworkError } from './client-errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** the client's address once asked for (ipOf in buildApp) */
    clientAddress: string | undefined;
  }
}

export interface AppDeps {
  config: Config;
  sink: Sink;
  sources: SourceStore;
  limiter: RateLimiter;
  metrics: Metrics;
  accounting: Accounting;
  logger: Logger;
  /** each source's tracking plan now */
  plans: PlanLookup;
  /** what the ingest routes read as the bodies' wait for the main thread (tests set it; by default the parser's queue) */
  bodyWait?: BodyWait;
  /** how long a read body may wait for the main thread before it is refused (tests set it; default MAX_PARSE_WAIT_MS in ./body.ts) */
  maxParseWaitMs?: number;
}

/** Fastify's own errors that a client can cause, in our catalogue's terms. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const { config, metrics } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    // Request logs would carry client addresses for every event; errors are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    // The request's own logger is the server's: a child per request (binding a request id that no
    // other log line or answer carries) was ~1% of a single-event request's main thread.
    childLoggerFactory: (logger) => logger,
    // Generous: the parser enforces the real (inflated) limit itself.
    bodyLimit: config.limits.maxBodyBytes * 4,
    forceCloseConnections: 'idle',
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    // Our own 503 below: Fastify's has no `code` and no Retry-After.
    return503OnClosing: false,
    // Node's own bounds on a request arriving: headers, and headers plus body (answered 408 and
    // closed). Node checks them every connectionsCheckingInterval, so that is a fraction of the
    // shortest. The body's own bound (BODY_TIMEOUT_MS) is the body reader's.
    keepAliveTimeout: config.timeouts.keepAliveMs,
    requestTimeout: config.timeouts.requestMs,
    http: {
      headersTimeout: config.timeouts.headersMs,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(config.timeouts.headersMs / 4))),
    },
  }) as unknown as FastifyInstance;

  registerNotFound(app, ['OPTIONS']);

  registerCors(app);
  // Requests that still arrive on open connections while shutting down get a 503 in the catalogue's
  // shape with Retry-After, so clients retry (against another instance) instead of giving up.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.header('connection', 'close');
    done(Errors.sinkUnavailable(1, 'the server is shutting down; retry'));
  });
  registerAdmission(app, { ...config.admission, maxBodyBytes: config.limits.maxBodyBytes }, metrics);
  const bodies = new BodyQueue((error) => app.log.error({ err: error }, 'parsing a queued body failed'));
  registerBodyParsers(app, { maxBytes: config.limits.maxBodyBytes, timeoutMs: config.timeouts.bodyMs, maxParseWaitMs: deps.maxParseWaitMs }, bodies);
  const trustedProxies = trustedProxyList(config.trustedProxies);
  const signedClientIp = proxiedClientIp(config.proxySecret);
  // Asked several times a request (the key check, the rate budgets, the event's context), and a
  // collect proxy's address is an HMAC to verify: worked out once, kept on the request.
  app.decorateRequest('clientAddress', undefined);
  const ipOf = (request: FastifyRequest) => (request.clientAddress ??= signedClientIp(request) ?? clientIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], trustedProxies));
  const auth = new Authenticator({ sources: deps.sources, metrics, limiter: new UnauthenticatedLimiter(config.unauthenticated) });
  const budgets = new SourceBudgets({ limiter: deps.limiter, metrics, ipOf, log: app.log });
  const refused = createRefusedBodies({ ...deps, budgets, auth, ipOf });
  registerIngestRoutes(app, { ...deps, budgets, refused, auth, ipOf, bodies: deps.bodyWait ?? bodies });
  registerOpsRoutes(app, deps);
  metrics.watchInstance(() => readiness(deps).then((r) => r.ready), deps.limiter);
  // Metrics live on the admin listener; some teams scrape the public port and may keep doing so.
  if (config.metricsOnPublicPort) registerMetricsRoute(app, deps.metrics);
  registerSdkRoute(app);
  registerSourceConfigRoute(app, { auth, ipOf });

  app.addHook('onResponse', (request, reply, done) => {
    metrics.countRequest(request.routeOptions.url ?? 'unmatched', reply.statusCode);
    done();
  });

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    let known = toInletError(error);
    // A body refused while it was read still belongs to the source whose key came with it.
    const route = INGEST_ROUTES.get(request.routeOptions.url ?? '');
    if (known && request.method === 'POST' && route) known = await refused.keepFromErrorHandler(request, known, error, route);
    // A body that was too slow, or did not fit the budget: the rest of it is not wanted, and its
    // connection is not kept for another request.
    if (known?.code === Errors.requestTimeout.code) metrics.timeouts.inc();
    if (known?.code === Errors.requestTimeout.code || known?.closesConnection) reply.header('connection', 'close');
    return errorReply(request, reply, known, error, 'request failed');
  });

  return app;
}
