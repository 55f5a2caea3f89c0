import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.ts';
import type { Sink } from '../sinks/sink.ts';
import type { SourceStore } from '../sources/source-store.ts';

export function registerOpsRoutes(app: FastifyInstance, deps: { sink: Sink; sources: SourceStore; metrics: Metrics }): void {
  // Load balancers poll this; it must stay cheap and never depend on the sink.
  app.get('/v1/ping', async (_request, reply) => reply.code(204).send());

  app.get('/health/ready', async (_request, reply) => {
    const [sink, sources] = await Promise.all([deps.sink.ready().catch(() => false), deps.sources.ready().catch(() => false)]);
    reply.code(sink && sources ? 200 : 503);
    return { status: sink && sources ? 'ready' : 'unavailable', sink: { kind: deps.sink.kind, ready: sink }, sources: { kind: deps.sources.kind, ready: sources } };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
