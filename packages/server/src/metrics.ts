import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MAX_PARSE_WAIT_MS } from './body.ts';
import type { BodyQueue } from './body-queue.ts';
import type { RateLimiter } from './limits/rate-limiter.ts';
import type { SinkBackpressure } from './sinks/sink-backpressure.ts';
import type { Sink } from './sinks/sink.ts';

/** This package's version (the packages' versions move together). */
const INLET_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** One registry per server, so several servers in one process (tests) keep separate counts. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'inlet_' });
  // Which version each instance runs, for the dashboards of a rolling upgrade.
  new Gauge({ name: 'inlet_build_info', help: 'Always 1; its labels name the Inlet version and the Node.js version', labelNames: ['version', 'node'], registers: [registry] })
    .labels(INLET_VERSION, process.version).set(1);
  const rateLimited = new Counter({ name: 'inlet_rate_limited_requests_total', help: 'Requests refused with 429 by a source\'s rate limit: budget="source" its write key\'s, "address" one client address\'s share of a browser source\'s', labelNames: ['budget'] as const, registers: [registry] });
  // Both series exist from the start, so a rate() over them reads 0 rather than nothing.
  for (const budget of ['source', 'address']) rateLimited.labels(budget).inc(0);
  const requests = new Counter({ name: 'inlet_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] });
  // Labelled children looked up once per route and status, not hashed from a labels object per request.
  const requestCounters = new Map<string, Counter.Internal>();
  const sinkWrite = new Histogram({
    name: 'inlet_sink_write_seconds', help: 'Time from handing events to the sink until they are durable', labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
  });
  return {
    registry,
    countRequest(route: string, status: number): void {
      const key = `${status} ${route}`;
      let counter = requestCounters.get(key);
      if (counter === undefined) requestCounters.set(key, counter = requests.labels(route, String(status)));
      counter.inc();
    },
    sinkWriteStored: sinkWrite.labels('stored'),
    sinkWriteFailed: sinkWrite.labels('failed'),
    events: new Counter({
      name: 'inlet_events_total',
      help: 'Events received from each source, by outcome: stored, duplicate (already stored), failed (with its reason); replayed counts failed events stored later',
      labelNames: ['source_id', 'outcome', 'reason'],
      registers: [registry],
    }),
    unattributed: new Counter({
      name: 'inlet_unattributed_rejections_total',
      help: 'Rejected requests with no valid write key, so no source to keep their events for, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    unauthenticated: new Counter({
      name: 'inlet_unauthenticated_requests_total',
      help: 'Ingestion requests without a valid write key, by reason: missing (none, or a malformed header), unknown, revoked, limited (429: the client address is out of its budget for such requests)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    failedDropped: new Counter({
      name: 'inlet_failed_events_dropped_total',
      help: 'Failed events deleted from the embedded store by retention (age) or the size cap',
      labelNames: ['cause'],
      registers: [registry],
    }),
    overloaded: new Counter({
      name: 'inlet_overload_refusals_total',
      help: `Work refused to keep memory and latency bounded: connections closed beyond MAX_CONNECTIONS, requests answered 503 beyond MAX_BODY_BYTES_IN_FLIGHT (body_bytes) or beyond what the sink makes durable in SINK_MAX_QUEUE_MS (sink), or shed while the sink queue stands (shed), or batches refused while the main thread is behind (loop), or bodies read but refused for waiting longer than ${MAX_PARSE_WAIT_MS} ms to be parsed (late)`,
      labelNames: ['bound'],
      registers: [registry],
    }),
    timeouts: new Counter({
      name: 'inlet_request_timeouts_total',
      help: 'Requests whose body did not arrive within BODY_TIMEOUT_MS (answered 408, connection closed)',
      registers: [registry],
    }),
    /**
     * Gauges of what admission decides by, so an operator seeing 503s sees why. Read at scrape time:
     * nothing is counted per request.
     */
    watchAdmission(sink: Pick<SinkBackpressure, 'pending' | 'rate' | 'bound' | 'standing' | 'standingBound'>, bodies: Pick<BodyQueue, 'waitMs'>): void {
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
      gauge('inlet_sink_pending_events', 'Events admitted and not yet durable (or failed)', () => sink.pending);
      gauge('inlet_sink_rate_events_per_second', 'Events per second the sink made durable while it was the bottleneck (0 until it has been)', () => sink.rate ?? 0);
      gauge('inlet_sink_admission_bound_events', 'Pending events beyond which requests get 503 (bound="sink"): the rate times SINK_MAX_QUEUE_MS, or the sink\'s own cap until the rate is measured', () => sink.bound);
      gauge('inlet_sink_queue_standing', '1 while the sink queue stands (an overload): sources holding their share are refused (bound="shed") once the standing bound is pending', () => (sink.standing ? 1 : 0));
      gauge('inlet_sink_standing_bound_events', 'Pending events at which a standing queue refuses: what the sink makes durable in 50 ms at its rate (or twice its floor), its own cap until the rate is measured', () => sink.standingBound);
      gauge('inlet_body_queue_wait_seconds', 'How long the oldest body read has waited for the main thread to parse it (batches are refused, bound="loop", past 100 ms while large batches arrive more than a quarter faster than they are taken)', () => bodies.waitMs / 1000);
    },
    /** How well the sink gathers requests into batches; read from the sink at scrape time. */
    watchSink(sink: Pick<Sink, 'batches'>): void {
      let counted = 0;
      new Counter({
        name: 'inlet_sink_batches_total',
        help: 'Batches the sink handed on to be made durable: transactions of the embedded store (group commits, and replay chunks), sends to the Kafka brokers (inlet_events_total over this is the events a batch carries)',
        registers: [registry],
        collect() { const now = sink.batches; this.inc(now - counted); counted = now; },
      });
    },
    /**
     * Gauges of the instance's state, read at scrape time: inlet_ready (what /health/ready would
     * answer, so an alert can see an instance that its load balancer took out), and, when the
     * limiter shares its budgets through Redis, inlet_rate_limit_shared (0 while Redis is away and
     * each instance limits on its own: N instances then let through up to N times the budget,
     * which no other signal shows). Without Redis there is nothing to share, and no such gauge.
     */
    watchInstance(ready: () => Promise<boolean>, limiter: Pick<RateLimiter, 'shared'>): void {
      new Gauge({
        name: 'inlet_ready',
        help: '1 when a write would succeed now (GET /health/ready answers 200), 0 when it answers 503',
        registers: [registry],
        async collect() { this.set((await ready()) ? 1 : 0); },
      });
      if (limiter.shared === undefined) return;
      new Gauge({
        name: 'inlet_rate_limit_shared',
        help: '1 while rate limits are decided in Redis and shared by every instance; 0 while Redis is away and this instance decides with a local budget of its own',
        registers: [registry],
        collect() { this.set(limiter.shared ? 1 : 0); },
      });
    },
    rateLimited,
    adminAuthFailures: new Counter({ name: 'inlet_admin_auth_failures_total', help: 'Admin API requests refused for a missing or wrong admin token', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
