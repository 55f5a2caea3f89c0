// What operators and load balancers ask of an instance: /v1/ping (alive), /health/ready (would a
// write succeed now) and /metrics. Readiness is decided in one place, readiness() below, for the
// route and for its gauge on /metrics, so a dashboard and a load balancer never disagree.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.ts';
import type { Sink } from '../sinks/sink.ts';
import type { SourceStore } from '../sources/source-store.ts';

export interface ReadinessDeps {
  sink: Sink;
  sources: SourceStore & { readonly servesCachedKeys?: boolean };
}

/** What /health/ready answers: ready, and what each part said. */
export interface Readiness {
  ready: boolean;
  sink: boolean;
  sources: boolean;
  /** the sources' store is down but this instance still takes events from keys it has cached */
  cachedOnly: boolean;
}

export async function readiness(deps: ReadinessDeps): Promise<Readiness> {
  const [sink, sources] = await Promise.all([deps.sink.ready().catch(() => false), deps.sources.ready().catch(() => false)]);
  // The sources' database is shared by every instance: were its outage a 503 here, a load
  // balancer would take them all out at once, while each still takes events from the keys it
  // has cached (only a key it never saw gets a 503). So that is ready, and said so in the body.
  const cachedOnly = !sources && deps.sources.servesCachedKeys === true;
  return { ready: sink && (sources || cachedOnly), sink, sources, cachedOnly };
}

export function registerOpsRoutes(app: FastifyInstance, deps: ReadinessDeps): void {
  // Load balancers poll this; it must stay cheap and never depend on the sink.
  app.get('/v1/ping', async (_request, reply) => reply.code(204).send());

  app.get('/health/ready', async (_request, reply) => {
    const { ready, sink, sources, cachedOnly } = await readiness(deps);
    reply.code(ready ? 200 : 503);
    return {
      status: ready ? 'ready' : 'unavailable',
      sink: { kind: deps.sink.kind, ready: sink },
      sources: { kind: deps.sources.kind, ready: sources, ...(cachedOnly ? { servingCachedKeys: true } : {}) },
    };
  });
}

/** Prometheus text format: on the admin listener, and on the public port when METRICS_ON_PUBLIC_PORT is set. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
