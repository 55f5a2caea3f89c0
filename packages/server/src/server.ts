// Puts a server together from its config: the sink, the source store and the rate limiter each
// come from the configured backend, and the embedded defaults need nothing installed.
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from './app.ts';
import type { Config } from './config.ts';
import type { RateLimiter } from './limits/rate-limiter.ts';
import { MemoryRateLimiter } from './limits/memory-limiter.ts';
import { createMetrics } from './metrics.ts';
import { EmbeddedSink } from './sinks/embedded-sink.ts';
import type { Sink } from './sinks/sink.ts';
import { CachedSourceStore } from './sources/cached-store.ts';
import type { Source, SourceStore } from './sources/source-store.ts';
import { SqliteSourceStore } from './sources/sqlite-store.ts';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  port: number;
  sink: Sink;
  sources: SourceStore;
  /** the `default` source, created on first start */
  defaultSource: Source | undefined;
  close(): Promise<void>;
}

export async function openSink(config: Config, logger: Logger): Promise<Sink> {
  if (!config.kafka) return new EmbeddedSink({ dataDir: config.dataDir, writeTimeoutMs: config.sinkTimeoutMs });
  const { KafkaSink } = await import('./sinks/kafka-sink.ts');
  return new KafkaSink({ ...config.kafka, writeTimeoutMs: config.sinkTimeoutMs, logger: logger.child({ component: 'kafka-sink' }) });
}

export async function openSourceStore(config: Config, logger: Logger): Promise<SourceStore> {
  if (!config.databaseUrl) return new SqliteSourceStore(config.dataDir);
  const { PostgresSourceStore } = await import('./sources/postgres-store.ts');
  return PostgresSourceStore.open({ connectionString: config.databaseUrl, logger: logger.child({ component: 'sources' }) });
}

async function openLimiter(config: Config, logger: Logger): Promise<RateLimiter> {
  const budgets = {
    requests: { limit: config.rateLimit.requestsPerMinute, windowMs: 60_000 },
    events: { limit: config.rateLimit.eventsPerMinute, windowMs: 60_000 },
  };
  if (!config.redisUrl) return new MemoryRateLimiter(budgets);
  const { RedisRateLimiter } = await import('./limits/redis-limiter.ts');
  return new RedisRateLimiter({ ...budgets, url: config.redisUrl, logger: logger.child({ component: 'rate-limit' }) });
}

export interface ServerParts {
  sink?: Sink;
  sources?: SourceStore;
  limiter?: RateLimiter;
  logger?: Logger;
}

export async function startServer(config: Config, parts: ServerParts = {}): Promise<RunningServer> {
  const logger = parts.logger ?? pino({ level: config.logLevel });
  const sink = parts.sink ?? (await openSink(config, logger));
  const sources = new CachedSourceStore(parts.sources ?? (await openSourceStore(config, logger)));
  const limiter = parts.limiter ?? (await openLimiter(config, logger));
  const defaultSource = await sources.ensureDefault();
  const app = buildApp({ config, sink, sources, limiter, metrics: createMetrics(), logger });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // A port in use must not leave the writer thread and connections keeping the process alive.
    await app.close();
    await Promise.allSettled([sink.close(), sources.close(), limiter.close()]);
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    // Stop accepting and let in-flight requests finish (their events reach the sink) first.
    await app.close();
    await Promise.allSettled([sink.close(), sources.close(), limiter.close()]);
  })());
  return { app, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port, sink, sources, defaultSource, close };
}
