import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.ts';
import type { Sink } from '../sinks/sink.ts';
import type { SourceStore } from '../sources/source-store.ts';

export function registerOpsRoutes(app: FastifyInstance, deps: { sink: Sink; sources: SourceStore }): void {
  // Load balancers poll this; it must stay cheap and never depend on the sink.
  app.get('/v1/ping', async (_request, reply) => reply.code(204).send());

  app.get('/health/ready', async (_request, reply) => {
    const [sink, sources] = await Promise.all([deps.sink.ready().catch(() => false), deps.sources.ready().catch(() => false)]);
    reply.code(sink && sources ? 200 : 503);
    return { status: sink && sources ? 'ready' : 'unavailable', sink: { kind: deps.sink.kind, ready: sink }, sources: { kind: deps.sources.kind, ready: sources } };
  });
}

/** Prometheus text format: on the admin listener, and on the public port when METRICS_ON_PUBLIC_PORT is set. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
