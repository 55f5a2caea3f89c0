// The ingestion routes: Segment's HTTP API, the short aliases analytics.js posts to (/v1/t ...,
// /v1/b when batching) and RudderStack's beacon route. Each route says what its body holds (one
// event of a type, or a batch), where the write key may be, and whether event times are a
// device's (corrected and bounded) or taken as given (/v1/import, and any route for a server source).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { EVENT_TYPES, createNormalizer, isTimestamp, validateEvent, type EventType } from '@inlet/schema';
import type { Accounting, FailedCounts } from '../accounting.ts';
import { writeKeyOf, type Authenticator } from '../auth.ts';
import { isGzip, isLateBody } from '../body.ts';
import type { BodyWait } from '../body-queue.ts';
import { deviceIdOf, withDeviceId } from '../collect-proxy.ts';
import type { Config } from '../config.ts';
import { Errors, SinkUnavailableError, SourceStoreUnavailableError, type InletError } from '../errors.ts';
import { failedEventOf, failureContext, type FailedRecord, type FailureContext } from '../failed/failed-event.ts';
import type { FailureReason } from '../failed/reasons.ts';
import type { SourceBudgets } from '../limits/source-budget.ts';
import type { Metrics } from '../metrics.ts';
import { inexactNumbers } from '../numbers.ts';
import { markChecked, type CompiledPlan, type PlanVerdict } from '../plans/compiled-plan.ts';
import { violationText } from '../plans/plan.ts';
import type { PlanLookup } from '../plans/registry.ts';
import { SinkBackpressure } from '../sinks/sink-backpressure.ts';
import type { Sink, StoredEvent } from '../sinks/sink.ts';
import type { Source, SourceStore } from '../sources/source-store.ts';
import { tooLarge } from '../event-size.ts';
import { applyBatchDefaults } from './batch-defaults.ts';
import type { RefusedBodies } from './refused-bodies.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The source of the Authorization header's key, checked before the body was read (none: the
     * key is in the body), for the route and for keeping a refused body. On the request, like
     * ../admission.ts's reservation: a WeakMap entry per request cost ~1 µs with its collection.
     */
    headerSource: Source | undefined;
  }
}

export interface IngestDeps {
  config: Config;
  sink: Sink;
  sources: SourceStore;
  /** the sources' rate budgets */
  budgets: SourceBudgets;
  metrics: Metrics;
  accounting: Accounting;
  refused: RefusedBodies;
  auth: Authenticator;
  /** the client's address (a trusted proxy's X-Forwarded-For, a collect proxy's signed one, or the peer) */
  ipOf: (request: FastifyRequest) => string | undefined;
  /** each source's tracking plan (undefined: none, events are not checked) */
  plans: PlanLookup;
  /** how long the oldest body read has waited for the main thread to parse it, and whether large batches arrive faster than it takes them (../body-queue.ts) */
  bodies: BodyWait;
}

/** What a route's body holds and how its events are read. */
export interface RouteKind {
  /** the event type of a single-event route; undefined for a batch */
  type: EventType | undefined;
  /** /v1/import: the client's timestamps are taken as given (takesTimeAsGiven) */
  historical: boolean;
  /** the beacon route: navigator.sendBeacon cannot set headers, so the key comes in the URL */
  keyInQuery: boolean;
}

/**
 * Whether a request's client times are taken as given (Enrichment.timeAsGiven): on the import route,
 * and from a server source, whose back end's clock is the server's and which sets a past
 * `timestamp` to record history. A device's times are corrected and bounded.
 */
export const takesTimeAsGiven = (route: RouteKind, source: Source): boolean => route.historical || source.kind === 'server';

export interface EventError {
  index: number;
  errors: string[];
}

/** A request's events, handed to the sink: what its answer needs once they are durable (no events, no body). */
interface Handed {
  written: ReturnType<Sink['write']>;
  /** when the sink took them (performance.now()) */
  started: number;
  accepted: number;
  failedCounts: FailedCounts;
  status: 200 | 400;
  body: Record<string, unknown>;
}

const live = { historical: false, keyInQuery: false };

/** Every ingest route and what its body holds. */
export const INGEST_ROUTES = new Map<string, RouteKind>([
  ...EVENT_TYPES.flatMap((type): [string, RouteKind][] => [
    [`/v1/${type}`, { ...live, type }],
    // analytics.js (Segment's browser SDK) posts to the type's initial: /v1/t, /v1/i, /v1/p ...
    [`/v1/${type[0]}`, { ...live, type }],
  ]),
  ['/v1/batch', { ...live, type: undefined }],
  ['/v1/b', { ...live, type: undefined }],
  ['/v1/import', { type: undefined, historical: true, keyInQuery: false }],
  ['/beacon/v1/batch', { type: undefined, historical: false, keyInQuery: true }],
]);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The request declares a body that has not been read. */
const bodyPending = (request: FastifyRequest) => Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;

/**
 * Bodies waiting longer than this for the main thread to parse them (../body-queue.ts), while large
 * batches arrive more than a quarter faster than it takes them, mean its CPU, not the sink, is the
 * bottleneck: batches are refused until the wait is short again. The refusals are quick whatever
 * this is (the queue is taken in short slices); it bounds what an accepted request waits before it
 * is even parsed. The wait alone cannot tell a closed loop of clients at the server's peak, whose
 * wait is theirs to keep (each sends its next request when answered, so a refusal only costs a
 * resend), from more arriving than the thread takes: at 50 ms, 50 clients sending batches of 100
 * back to back got 503s on a slower machine; at 100 none (bench/LOG.md, 2026-12-05), but on a
 * machine whose cores were also busy elsewhere (a CPU stall of 30-39%) they got 17-1,481 in 7 of 13
 * rounds (bench/LOG.md, 2026-12-06, 11:30 UTC session). Hence the second condition: a closed loop
 * brings about one batch per batch taken, an overload more (refused ones included: two at twice the
 * peak); with it those clients got none (../body-queue.ts says what counts). A queue that does not
 * drain for a window (CoDel's test) refused that closed loop as well, and so did a wait predicted
 * from the bytes admitted and not yet parsed at the queue's recent pace: 200 clients answered
 * together by one commit send 200 bodies at once, a queue predicted past 100 ms that the oldest's
 * wait lets in, and got ten times the 503s (bench/LOG.md, 2026-12-06, a standing sink queue). What
 * this lets in joins the back of the queue; a body that then waits past MAX_PARSE_WAIT_MS is refused
 * when its turn comes (../body.ts). The rule's price: 200 clients that resend a refusal at once keep
 * it on with their resends, and lose 30-45% of their throughput to it; without it, the embedded
 * store's overload lost 8-9 points of goodput, each refusal cost the thread 199-221 µs instead of
 * 112-172 (its body was read first), and the accepted p99 rose by 66-200 ms (bench/LOG.md,
 * 2026-12-06, 14:00 UTC session). Clients that wait as Retry-After says, as Inlet's SDKs do, do not
 * pay it: 200 of them did what 50 did within the rounds' noise (the same file, 16:30 UTC session).
 */
const MAX_BODY_WAIT_MS = 100;
/**
 * Only batches this large are refused for the main thread before their bodies are read (a body of
 * any size that then waits too long is refused at its turn, ../body.ts): refusing pays only when it
 * costs much less than taking. A refusal still reads the body and answers, 70-160 µs of the main thread for a
 * batch of 100 events against 0.65-1.1 ms taken (by machine; bench/LOG.md, 2026-12-04 night and
 * 2026-12-05); for a single event (~40 µs against ~75) refusing the excess of a 2x overload would
 * cost as much as serving it. A gzip body is its events in a quarter of the bytes or less (SDKs
 * compress batches by default), and costs its inflating on top.
 */
const LOOP_SHED_MIN_BYTES = 16 * 1024;
const LOOP_SHED_MIN_GZIP_BYTES = 4 * 1024;

/** A batch route's body declared large enough that refusing it costs a fraction of taking it (a chunked one is not known). */
function isLargeBatch(request: FastifyRequest, route: RouteKind): boolean {
  if (route.type) return false;
  return Number(request.headers['content-length']) >= (isGzip(request) ? LOOP_SHED_MIN_GZIP_BYTES : LOOP_SHED_MIN_BYTES);
}

export function registerIngestRoutes(app: FastifyInstance, deps: IngestDeps): void {
  const { config, sink, budgets, metrics, accounting, refused, auth, ipOf } = deps;
  const { maxEventBytes, maxBatchEvents, maxBodyBytes } = config.limits;
  // The sinks' own caps on pending events are 100,000 (Kafka) and 200,000 (embedded); the bound
  // measured from the sink's rate is normally far below them.
  const backpressure = new SinkBackpressure({ maxQueueMs: config.sinkMaxQueueMs, minPendingEvents: 2 * maxBatchEvents, maxPendingEvents: 100_000 });
  const { bodies } = deps;
  metrics.watchAdmission(backpressure, bodies);
  metrics.watchSink(sink);
  app.decorateRequest('headerSource', undefined);
  // Admission, like the connection and body-byte bounds of ../admission.ts: the same 503 and counter.
  // `bound`: sink when past the bound, shed for a standing queue at its bound, loop for bodies
  // waiting for the main thread, late for a body that waited too long to be parsed (../body.ts).
  const behind = (bound: 'sink' | 'shed' | 'loop' | 'late') => {
    metrics.overloaded.labels(bound).inc();
    return Errors.overloaded(bound === 'loop' || bound === 'late' ? 'it has more requests than it can read' : 'the sink is behind', false);
  };
  /**
   * Refused for the sink before the body is read, the connection is kept and the body read and
   * discarded by Node: these are the clients that retry, and closing on a body they are still
   * sending resets the connection before they read the 503 (an overload then looks like connection
   * errors to them). Only a body declared within the size limit is drained, though: Node drains
   * without a bound, so a chunked or oversized one closes the connection as before.
   */
  const refuseBeforeBody = (request: FastifyRequest, reply: FastifyReply, refusal: 'sink' | 'shed' | 'loop' | InletError) => {
    const declared = Number(request.headers['content-length']);
    const drainable = request.headers['transfer-encoding'] === undefined && declared >= 0 && declared <= maxBodyBytes;
    if (bodyPending(request) && !drainable) reply.header('connection', 'close');
    return typeof refusal === 'string' ? behind(refusal) : refusal;
  };

  /**
   * Before the body is read: a sink already at its bound gets 503 (the cheapest refusal, so first),
   * a header key is checked (401 now, body unread), an address out of its budget gets 429, as does
   * a source, or its client address, whose rate budget is known to be spent (../limits/source-budget.ts), and a
   * source holding its share of a standing sink queue at its bound gets 503, as does a large batch of
   * a source holding its share met while bodies wait long for a main thread that more batches arrive
   * at than it takes (../body-queue.ts). A key in the body is known only after parsing: such
   * requests are admitted by the bound alone.
   * Callback style: a key this instance knows needs no promise (most requests).
   */
  function beforeBody(request: FastifyRequest, reply: FastifyReply, route: RouteKind, done: (error?: Error) => void) {
    if (backpressure.saturated) return done(refuseBeforeBody(request, reply, 'sink'));
    const known = auth.knownBeforeBody(request);
    if (known) return done(admitSource(request, reply, route, known));
    checkKeyBeforeBody(request, reply, route).then(done, done);
  }

  /** The key checked (and remembered) by the source store: the refusal, if any; rejects with 401, 429 or 503. */
  async function checkKeyBeforeBody(request: FastifyRequest, reply: FastifyReply, route: RouteKind): Promise<Error | undefined> {
    let source: Source | undefined;
    try {
      source = await auth.beforeBody(request, ipOf(request));
    } catch (error) {
      // The body is not wanted: closing after the answer spares reading (and discarding) the rest.
      if (bodyPending(request)) reply.header('connection', 'close');
      throw error;
    }
    return source && admitSource(request, reply, route, source);
  }

  /** The refusal for a source's share, if any, of a request whose header key named it. */
  function admitSource(request: FastifyRequest, reply: FastifyReply, route: RouteKind, source: Source): Error | undefined {
    request.headerSource = source;
    const spent = budgets.spentBefore(source, request);
    if (spent) {
      reply.header('ratelimit-limit', spent.limit).header('ratelimit-remaining', 0).header('ratelimit-reset', Math.ceil(spent.resetMs / 1000));
      return refuseBeforeBody(request, reply, spent.error);
    }
    if (backpressure.sheds(source.id)) return refuseBeforeBody(request, reply, 'shed');
    if (!isLargeBatch(request, route)) return undefined;
    bodies.arrived();
    if (bodies.waitMs > MAX_BODY_WAIT_MS && bodies.outpaced && backpressure.holdsShare(source.id)) return refuseBeforeBody(request, reply, 'loop');
    return undefined;
  }

  async function ingest(request: FastifyRequest, reply: FastifyReply, route: RouteKind) {
    const { type } = route;
    const body = request.body;
    // (what admitSource counted as arrived, now taken)
    if (request.headerSource && isLargeBatch(request, route)) bodies.taken();
    if (isLateBody(body)) throw behind('late');
    if (!isObject(body)) {
      throw await refused.keep(request, Errors.invalidBody(`expected a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`), { json: body }, route);
    }
    const source = request.headerSource ?? await auth.authenticate(ipOf(request), () => writeKeyOf(request, body, route.keyInQuery));

    let items: unknown[];
    if (type) items = [body];
    else if (!Array.isArray(body.batch)) throw await refused.keep(request, Errors.invalidBody(body.batch === undefined ? 'batch is required' : 'batch must be an array'), { json: body }, route, source);
    else items = body.batch;
    if (items.length > maxBatchEvents) throw await refused.keep(request, Errors.tooManyEvents(`${items.length} events; the limit is ${maxBatchEvents}`), { json: body }, route, source);
    const shared = type ? undefined : applyBatchDefaults(body, items, maxBodyBytes);
    if (shared) throw await refused.keep(request, shared, { json: body }, route, source);

    const { decision, refusal } = await budgets.spend(source, request, items.length);
    reply.header('ratelimit-limit', decision.limit).header('ratelimit-remaining', decision.remaining).header('ratelimit-reset', Math.ceil(decision.resetMs / 1000));
    if (refusal) throw refusal;

    // A Map lookup, except while a new plan version loads.
    const planned = deps.plans(source.id);
    const plan = planned instanceof Promise ? await loaded(planned) : planned;
    request.body = undefined;
    // Not awaited here: a suspended async function keeps every local alive, used again or not
    // (V8), so awaiting the sink in this function would keep the parsed body, its items and the
    // records alive until the acknowledgement — through every scavenge of the main thread's young
    // generation, which then copies them. What waits is `answer`, holding counts and the reply.
    return answer(request, reply, handToSink(request, body, items, route, source, plan), source.id);
  }

  /** Prepares a request's events and hands them to the sink; returns what its answer needs once they are durable. */
  function handToSink(request: FastifyRequest, body: Record<string, unknown>, items: unknown[], route: RouteKind, source: Source, plan: CompiledPlan | undefined): Handed {
    const { events, failed, failedCounts, errors } = prepare(request, body, items, route, source, plan);
    const accepted = events.length;
    const pending = accepted + failed.length;
    if (!backpressure.admit(pending, source.id)) throw behind('sink');
    const started = performance.now();
    const written = backpressure.track(pending, sink.write(events, failed), source.id);
    if (route.type && errors.length > 0) {
      const reason = failed[0]?.entry.reason === 'plan_violation'
        ? { error: `Event breaks the tracking plan: ${errors[0].errors.join('; ')}`, code: Errors.planViolation.code }
        : { error: `Invalid event: ${errors[0].errors.join('; ')}`, code: Errors.invalidEvent.code };
      return { written, started, accepted, failedCounts, status: 400, body: { ...reason, accepted: 0, rejected: 1, errors } };
    }
    return { written, started, accepted, failedCounts, status: 200, body: { accepted, rejected: errors.length, errors } };
  }

  /** A plan that cannot be loaded is a 503 (clients retry), never events stored unchecked. */
  async function loaded(planned: Promise<CompiledPlan | undefined>): Promise<CompiledPlan | undefined> {
    try {
      return await planned;
    } catch (error) {
      if (error instanceof SourceStoreUnavailableError) throw Errors.sourceStoreUnavailable();
      throw error;
    }
  }

  function prepare(request: FastifyRequest, body: Record<string, unknown>, items: unknown[], route: RouteKind, source: Source, plan: CompiledPlan | undefined) {
    const { type } = route;
    const receivedAtMs = Date.now();
    const ip = ipOf(request);
    const sentAt = isTimestamp(body.sentAt) ? body.sentAt : undefined;
    const keepClientIp = source.kind === 'server';
    const timeAsGiven = takesTimeAsGiven(route, source);
    const normalize = createNormalizer({ sourceId: source.id, receivedAtMs, ip, ipPolicy: source.ipPolicy, sentAt, keepClientIp, timeAsGiven });
    // (withDeviceId fills a missing anonymousId in the item itself: a failed event keeps it too.)
    const deviceId = deviceIdOf(request);
    const events: StoredEvent[] = [];
    const errors: EventError[] = [];
    const failed: FailedRecord[] = [];
    const failedCounts: FailedCounts = {};
    let failure: FailureContext | undefined;
    const fail = (item: unknown, index: number, reason: FailureReason, messages: string[], detail?: Parameters<typeof failedEventOf>[5]) => {
      errors.push({ index, errors: messages });
      failure ??= failureContext({ sourceId: source.id, receivedAtMs, route: request.routeOptions.url ?? request.url, ip, ipPolicy: source.ipPolicy, sentAt, type, keepClientIp, historical: timeAsGiven });
      failed.push(failedEventOf(failure, item, type ? undefined : index, reason, messages, detail));
      failedCounts[reason] = (failedCounts[reason] ?? 0) + 1;
    };
    for (let index = 0; index < items.length; index++) {
      const inexact = inexactNumbers(body, items[index]);
      if (inexact) {
        fail(items[index], index, 'invalid', inexact.errors, { inexact: inexact.lossy });
        continue;
      }
      const validation = validateEvent(withDeviceId(items[index], deviceId), type);
      if (!validation.ok) {
        fail(items[index], index, 'invalid', validation.errors);
        continue;
      }
      let verdict: PlanVerdict | undefined;
      if (plan) {
        verdict = plan.check(validation.event);
        if (verdict?.block) {
          fail(items[index], index, 'plan_violation', verdict.violations.map((v) => violationText(v, plan.version)), { plan: { version: plan.version, violations: verdict.violations } });
          continue;
        }
      }
      const record = normalize(validation.event);
      if (plan) markChecked(record, plan.version, verdict?.violations);
      const json = JSON.stringify(record);
      const large = tooLarge(json, items[index], maxEventBytes);
      if (large !== undefined) {
        fail(items[index], index, 'too_large', [large]);
        continue;
      }
      events.push({ record, json });
    }
    return { events, failed, failedCounts, errors };
  }

  async function answer(request: FastifyRequest, reply: FastifyReply, handed: Handed, sourceId: string) {
    const { accepted, failedCounts } = handed;
    let duplicates: number;
    try {
      ({ duplicates } = await handed.written);
    } catch (error) {
      metrics.sinkWriteFailed.observe((performance.now() - handed.started) / 1000);
      if (error instanceof SinkUnavailableError) {
        request.log.warn({ events: accepted, sourceId, reason: error.message }, 'sink unavailable');
        throw Errors.sinkUnavailable(1);
      }
      throw error;
    }
    metrics.sinkWriteStored.observe((performance.now() - handed.started) / 1000);
    accounting.request(sourceId, accepted - duplicates, duplicates, failedCounts);
    reply.code(handed.status);
    return handed.body;
  }

  for (const [path, kind] of INGEST_ROUTES) app.post(path, { onRequest: (request, reply, done) => beforeBody(request, reply, kind, done) }, (request, reply) => ingest(request, reply, kind));
}
