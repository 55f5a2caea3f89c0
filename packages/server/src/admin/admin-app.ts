// The admin listener: a second Fastify instance on its own address (127.0.0.1:8081 by default),
// apart from the public ingest port. Everything on it needs the admin token, never a write key:
// the admin API (sources, plans, failed events, stats, health, live events) and /metrics. Scripts
// send it as Authorization: Bearer; the console (/console, whose files need nothing) exchanges it
// once for a session cookie (./session.ts: Secure over HTTPS, and a sign-out ends it on every
// instance), and every change made with that cookie must also carry the x-inlet-csrf header, which
// a form or a cross-site request cannot send.
import type { BlockList } from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { OutcomeSource } from '../accounting.ts';
import { errorReply, toInletError } from '../error-reply.ts';
import { Errors, InletError } from '../errors.ts';
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
import type { LiveHub } from '../live/live-hub.ts';
import type { Sink } from '../sinks/sink.ts';
import { isConsoleFile, registerConsoleFiles } from './console-files.ts';
import { registerHealthApi } from './health-api.ts';
import { registerLiveApi } from './live-api.ts';
import { registerPlanViolationsApi } from './plan-violations-api.ts';
import type { EventSamples } from '../plans/event-samples.ts';
import { EndedSessions } from './ended-sessions.ts';
import { LoginLimiter, registerSessionApi, Sessions } from './session.ts';
import { answerClientError, answerFrameworkError } from '../client-errors.ts';
import { clientIp } from '../client-ip.ts';
import { registerNotFound } from '../not-found.ts';
import { shorten } from '../shorten.ts';

export interface AdminDeps {
  tokens: AdminTokens;
  sources: SourceStore;
  failed: FailedStore;
  outcomes: OutcomeSource;
  plans: PlanService;
  metrics: Metrics;
  logger: Logger;
  sink: Sink;
  live: LiveHub;
  /** the public listener's address (for the snippets the console shows) */
  publicUrl: () => string;
  /** where stored events are read back (undefined: no store to read) */
  samples?: EventSamples;
  /** where the built console is (default: @inlet/console's dist/) */
  consoleDir?: string;
  /**
   * proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (TRUSTED_PROXIES): the login
   * limit counts the address behind them, and the session cookie is Secure when they say https
   */
  trustedProxies?: BlockList;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** An Origin header naming another site than the one asked (a browser sends it on cross-site requests). */
function foreignOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== host;
  } catch {
    return true;
  }
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Whether what let this request in (its token, its session) still would: a long-lived answer
     * (the live view's stream) asks again, so a rotated token or an ended session ends it too.
     */
    stillAuthorized: (() => Promise<boolean>) | undefined;
  }
}

export function buildAdminApp(deps: AdminDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Request logs would carry the Authorization header's neighbourhood; errors are logged instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  }) as unknown as FastifyInstance;

  registerNotFound(app);

  const sessions = new Sessions(deps.tokens, new EndedSessions(deps.sources), deps.trustedProxies);
  const loginLimiter = new LoginLimiter();

  app.decorateRequest('stillAuthorized', undefined);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    if (isConsoleFile(request.method, path)) return;
    // Sources, failed events (personal data) and stats: never kept by a browser's or a proxy's cache.
    reply.header('cache-control', 'no-store');
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (match) {
      const token = match[1];
      if (await deps.tokens.verify(token)) {
        request.stillAuthorized = () => deps.tokens.verify(token);
        return;
      }
      deps.metrics.adminAuthFailures.inc();
      reply.header('www-authenticate', 'Bearer realm="inlet-admin"');
      throw Errors.invalidAdminToken();
    }
    // From here on a browser's request: no cross-site requests, and changes need the CSRF header.
    if (foreignOrigin(request.headers.origin, request.headers.host)) throw Errors.foreignOrigin();
    const csrfMissing = !SAFE_METHODS.has(request.method) && request.headers['x-inlet-csrf'] !== '1';
    if (request.method === 'POST' && path === '/api/session') {
      if (csrfMissing) throw Errors.csrfHeaderRequired();
      return;
    }
    const session = await sessions.check(request);
    if (session === 'valid') {
      if (csrfMissing) throw Errors.csrfHeaderRequired();
      request.stillAuthorized = async () => (await sessions.check(request)) === 'valid';
      return;
    }
    deps.metrics.adminAuthFailures.inc();
    reply.header('www-authenticate', 'Bearer realm="inlet-admin"');
    if (session === 'invalid') {
      sessions.clear(reply);
      throw Errors.sessionExpired();
    }
    throw Errors.adminTokenRequired();
  });

  // After the token: bodies are read as sent. A gzip plan was read as text and refused as "not
  // JSON" with its binary bytes in the message.
  app.addHook('preParsing', async (request) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      throw new InletError(Errors.unsupportedEncoding.code, 415, `The admin API reads request bodies as sent: send this one without Content-Encoding (it said ${shorten(encoding, 40)})`);
    }
  });

  // Bodies are JSON whatever the Content-Type says, as on the public port: `curl -d '{...}'` labels
  // them application/x-www-form-urlencoded (Fastify answered a bare 415) and a text/plain body was
  // read as a string, so its fields went unseen ("name is required"). Fastify's JSON parser keeps
  // its __proto__ and constructor checks; an empty body is no body. (The plan route reads its own.)
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') { done(null, undefined); return; }
    json(request, body as string, (error, value) => {
      if (!error) { done(null, value); return; }
      // Fastify's own message says "content-type is set to 'application/json'" whatever it was.
      let why = 'a __proto__ or constructor.prototype key is not allowed';
      try { JSON.parse(body as string); } catch (syntax) { why = (syntax as Error).message.slice(0, 200); }
      const said = shorten(request.headers['content-type'] ?? 'none', 60);
      done(Errors.malformedJson(`${why} (the admin API reads bodies as JSON whatever the Content-Type; it said ${said})`), undefined);
    });
  });

  registerConsoleFiles(app, deps.consoleDir);
  // Behind a reverse proxy every login comes from its address: five wrong tokens from anyone there
  // would lock every admin out.
  const addressOf = (request: FastifyRequest) => clientIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], deps.trustedProxies) ?? request.ip;
  registerSessionApi(app, deps.tokens, sessions, loginLimiter, deps.metrics, addressOf);
  registerLiveApi(app, deps.live);
  registerHealthApi(app, deps);
  registerPlanViolationsApi(app, deps);
  // Live streams never go idle: end them, or closing would wait on them.
  app.addHook('preClose', async () => { await deps.live.close(); });

  registerSourcesApi(app, deps.sources);
  registerFailedApi(app, deps.failed);
  registerStatsApi(app, deps.outcomes);
  registerPlansApi(app, deps.plans);
  registerMetricsRoute(app, deps.metrics);

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    return errorReply(request, reply, toInletError(error), error, 'admin request failed');
  });

  return app;
}
