// GET /api/health: what the console's Health page shows — the sink (kind, whether it takes
// writes, write latency from the sink histogram), live viewers, and requests by route and status
// since this server started. Also the public address, for the snippets the console shows.
import type { FastifyInstance } from 'fastify';
import type { LiveHub } from '../live/live-hub.ts';
import type { Metrics } from '../metrics.ts';
import type { Sink } from '../sinks/sink.ts';

interface HistogramValue { labels: Record<string, string | number>; value: number; metricName?: string }

/** The upper bound of the bucket the q-quantile falls in, in ms (null with no writes). */
function quantileMs(values: HistogramValue[], q: number): number | null {
  const buckets = values
    .filter((v) => v.metricName === 'inlet_sink_write_seconds_bucket' && v.labels.outcome === 'stored')
    .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const bucket = buckets.find((b) => b.count >= q * total)!;
  return bucket.le === Infinity ? null : bucket.le * 1000;
}

export function registerHealthApi(app: FastifyInstance, deps: { sink: Sink; metrics: Metrics; live: LiveHub; publicUrl: () => string }): void {
  const started = Date.now();
  app.get('/api/health', async () => {
    const ready = await deps.sink.ready().catch(() => false);
    const latency = (await deps.metrics.registry.getSingleMetric('inlet_sink_write_seconds')?.get())?.values as HistogramValue[] | undefined ?? [];
    const requests = (await deps.metrics.registry.getSingleMetric('inlet_http_requests_total')?.get())?.values ?? [];
    return {
      publicUrl: deps.publicUrl(),
      sink: { kind: deps.sink.kind, ready, latencyMs: { p50: quantileMs(latency, 0.5), p99: quantileMs(latency, 0.99) } },
      live: { viewers: deps.live.viewerCount, maxViewers: deps.live.maxViewers },
      requests: requests.map((v) => ({ route: String(v.labels.route), status: String(v.labels.status), count: v.value })),
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
    };
  });
}
