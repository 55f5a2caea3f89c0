// A request body refused as a whole (not JSON, not the shape its route expects, too large) still
// belongs to a source when its write key can be told: it is kept as one failed event, durably,
// before the client gets its 4xx. With no valid key there is no one to keep it for: it is counted.
import type { FastifyRequest } from 'fastify';
import { writeKeyOf } from '../auth.ts';
import { refusedBodyOf } from '../body.ts';
import { Errors, InletError, SinkUnavailableError } from '../errors.ts';
import { failedBodyOf, failureContext } from '../failed/failed-event.ts';
import type { FailureReason } from '../failed/reasons.ts';
import type { Source } from '../sources/source-store.ts';
import { takesTimeAsGiven, type IngestDeps, type RouteKind } from './ingest.ts';

/** The catalogue's body errors, and the failure reason each is kept under. */
const BODY_FAILURES: Record<string, FailureReason> = {
  [Errors.malformedJson.code]: 'malformed_body',
  [Errors.invalidBody.code]: 'malformed_body',
  [Errors.invalidGzip.code]: 'malformed_body',
  [Errors.unsupportedEncoding.code]: 'malformed_body',
  [Errors.bodyTooLarge.code]: 'too_large',
  [Errors.tooManyEvents.code]: 'too_large',
};

const UNAUTHENTICATED = new Set<string>([Errors.missingWriteKey.code, Errors.invalidWriteKey.code, Errors.malformedAuthorization.code]);

export interface RefusedBodies {
  /**
   * Keeps a body the ingest route refused; `json` is the body when it parsed. Resolves with the
   * error to answer: `error` itself, or a 503/429 when it could not be kept now.
   */
  keep(request: FastifyRequest, error: InletError, body: { json?: unknown }, route: RouteKind, source?: Source): Promise<InletError>;
  /** The same for an error the app's error handler got on an ingest route (a body refused while it was read, or a 401). */
  keepFromErrorHandler(request: FastifyRequest, error: InletError, original: unknown, route: RouteKind): Promise<InletError>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function createRefusedBodies(deps: Omit<IngestDeps, 'refused' | 'plans' | 'bodies'>): RefusedBodies {
  const { sink, budgets, metrics, accounting, auth, ipOf } = deps;

  /** The source and key of a refused request, when a valid one can be found; never throws. */
  async function ownerOf(request: FastifyRequest, json: unknown, route: RouteKind): Promise<{ source: Source; writeKey: string } | undefined> {
    try {
      const writeKey = writeKeyOf(request, isObject(json) ? json : undefined, route.keyInQuery);
      // A header key was checked before the body was read; a key in the body counts against the address's budget.
      return { source: request.headerSource ?? await auth.authenticate(ipOf(request), () => writeKey), writeKey };
    } catch {
      return undefined;
    }
  }

  async function keep(request: FastifyRequest, error: InletError, body: { json?: unknown; bytes?: Buffer; truncated?: boolean }, route: RouteKind, known?: Source): Promise<InletError> {
    const reason = BODY_FAILURES[error.code];
    if (!reason) return error;
    const owner = known ? { source: known, writeKey: undefined } : await ownerOf(request, body.json, route);
    if (!owner) {
      metrics.unattributed.labels(reason).inc();
      return error;
    }
    const { source } = owner;
    const { refusal } = await budgets.spend(source, request, 1);
    if (refusal) return refusal;
    const context = failureContext({
      sourceId: source.id,
      receivedAtMs: Date.now(),
      route: request.routeOptions.url ?? request.url,
      ip: ipOf(request),
      ipPolicy: source.ipPolicy,
      sentAt: undefined,
      type: route.type,
      keepClientIp: source.kind === 'server',
      historical: takesTimeAsGiven(route, source),
    });
    const record = failedBodyOf(context, { ...body, writeKey: owner.writeKey }, reason, [error.message]);
    try {
      await sink.write([], [record]);
    } catch (failure) {
      if (!(failure instanceof SinkUnavailableError)) throw failure;
      request.log.warn({ sourceId: source.id, reason: failure.message }, 'sink unavailable: a refused body could not be kept');
      return Errors.sinkUnavailable(1);
    }
    accounting.request(source.id, 0, 0, { [reason]: 1 });
    return error;
  }

  return {
    keep,
    async keepFromErrorHandler(request, error, original, route) {
      if (UNAUTHENTICATED.has(error.code)) {
        metrics.unattributed.labels('unauthenticated').inc();
        return error;
      }
      // Only errors raised while the body was read: those the route raised itself were kept there.
      const refused = refusedBodyOf(original);
      const fromFastify = String((original as { code?: unknown }).code ?? '').startsWith('FST_ERR_CTP');
      if (!refused && !fromFastify) return error;
      return keep(request, error, { bytes: refused?.bytes, truncated: refused?.truncated ?? false }, route);
    },
  };
}
