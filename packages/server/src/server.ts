// Puts a server together from its config: the sink, the source store and the rate limiter each
// come from the configured backend, and the embedded defaults need nothing installed. Two
// listeners: the public one (ingestion) and the admin one (admin API and /metrics, admin token).
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { Accounting, MemoryOutcomes, type OutcomeSource } from './accounting.ts';
import { buildAdminApp } from './admin/admin-app.ts';
import { AdminTokens } from './admin/token.ts';
import { buildApp } from './app.ts';
import type { BodyWait } from './body-queue.ts';
import { trustedProxyList, type Config } from './config.ts';
import { databaseFile, openDatabase } from './db/database.ts';
import { DatabaseReader } from './db/reader.ts';
import { EmbeddedFailedStore } from './failed/embedded-failed-store.ts';
import type { FailedStore } from './failed/failed-store.ts';
import { UnavailableFailedStore } from './failed/unavailable-failed-store.ts';
import type { RateLimiter } from './limits/rate-limiter.ts';
import { addressBudgets } from './limits/budgets.ts';
import { MemoryRateLimiter } from './limits/memory-limiter.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { embeddedSamples, kafkaSamples, type EventSamples } from './plans/event-samples.ts';
import { PlanService } from './plans/plan-service.ts';
import { PlanRegistry } from './plans/registry.ts';
import { EmbeddedSink } from './sinks/embedded-sink.ts';
import { EmbeddedLiveOrigin } from './live/embedded-live.ts';
import { LiveHub, type LiveOrigin } from './live/live-hub.ts';
import type { Sink } from './sinks/sink.ts';
import { CachedSourceStore } from './sources/cached-store.ts';
import type { Source, SourceStore } from './sources/source-store.ts';
import { SqliteSourceStore } from './sources/sqlite-store.ts';

export interface Listener {
  app: FastifyInstance;
  url: string;
  port: number;
}

export interface RunningServer extends Listener {
  sink: Sink;
  sources: SourceStore;
  failed: FailedStore;
  /** each source's current tracking plan, as this instance applies it */
  plans: PlanRegistry;
  /** the admin listener */
  admin: Listener;
  /** the admin token, when this start made it (the first start): it is shown this once */
  adminToken: string | undefined;
  /** the `default` source, created on first start; with its write key only then (only the key's hash is kept) */
  defaultSource: (Source & { writeKey?: string }) | undefined;
  close(): Promise<void>;
}

export async function openSink(config: Config, logger: Logger, metrics?: Metrics): Promise<Sink> {
  if (!config.kafka) {
    return new EmbeddedSink({
      dataDir: config.dataDir,
      writeTimeoutMs: config.sinkTimeoutMs,
      failedRetentionDays: config.failed.retentionDays,
      failedMaxBytes: config.failed.maxBytes,
      onDropped: ({ retention, size }) => {
        metrics?.failedDropped.labels('retention').inc(retention);
        metrics?.failedDropped.labels('size').inc(size);
      },
      logger: logger.child({ component: 'embedded-store' }),
    });
  }
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
    addressPercent: config.rateLimit.addressPercent,
    largestRequestEvents: config.limits.maxBatchEvents,
  };
  const shares = addressBudgets(budgets);
  if (shares && shares.events.limit > Math.floor((budgets.events.limit * budgets.addressPercent) / 100)) {
    logger.warn({ component: 'rate-limit' }, `RATE_LIMIT_ADDRESS_PERCENT: ${budgets.addressPercent}% of RATE_LIMIT_EVENTS_PER_MINUTE (${budgets.events.limit}) is less than MAX_BATCH_EVENTS (${config.limits.maxBatchEvents}); a browser client address may send ${shares.events.limit} events a minute, so that a full batch fits${shares.events.limit >= budgets.events.limit ? ': as many as the whole key, so one address can spend it' : ''}`);
  }
  if (!config.redisUrl) return new MemoryRateLimiter(budgets);
  const { RedisRateLimiter } = await import('./limits/redis-limiter.ts');
  return new RedisRateLimiter({ ...budgets, url: config.redisUrl, logger: logger.child({ component: 'rate-limit' }) });
}

/** A sink the live view cannot follow: viewers see nothing arrive. */
const silentOrigin: LiveOrigin = { start: async () => {}, stop: async () => {} };

/** Where failed events are read and replayed, where the per-source counts come from, where `plans infer` reads events, and where the console's live view follows them. */
async function openFailedEvents(config: Config, sink: Sink, accounting: Accounting, memory: MemoryOutcomes, plans: PlanRegistry, logger: Logger): Promise<{ failed: FailedStore; outcomes: OutcomeSource; samples?: EventSamples; live: LiveOrigin }> {
  if (sink instanceof EmbeddedSink) {
    // The writer thread brings the schema up to date too; this makes sure it is before reading.
    openDatabase(databaseFile(config.dataDir)).close();
    const reader = new DatabaseReader(config.dataDir);
    return {
      failed: new EmbeddedFailedStore({ reader, writer: sink.writer, limits: config.limits, plans: plans.lookup, onReplayed: (sourceId, n) => accounting.replayed(sourceId, n) }),
      outcomes: { scope: 'store', outcomes: (sinceMs, sourceId) => reader.outcomes(sinceMs, sourceId) },
      samples: embeddedSamples(reader),
      live: new EmbeddedLiveOrigin(sink.writer, reader),
    };
  }
  if (config.kafka && sink.kind === 'kafka') {
    const { KafkaFailedStore } = await import('./failed/kafka-failed-store.ts');
    const failed = new KafkaFailedStore({ ...config.kafka, limits: config.limits, plans: plans.lookup, onReplayed: (sourceId, n) => accounting.replayed(sourceId, n) });
    const { KafkaLiveOrigin } = await import('./live/kafka-live.ts');
    const live = new KafkaLiveOrigin({ ...config.kafka, logger: logger.child({ component: 'live' }) });
    return { failed, outcomes: memory, samples: kafkaSamples(config.kafka), live };
  }
  return { failed: new UnavailableFailedStore(sink.kind), outcomes: memory, live: silentOrigin };
}

export interface ServerParts {
  sink?: Sink;
  /** how long bodies wait for the main thread, as admission reads it (tests set it; by default measured) */
  bodyWait?: BodyWait;
  /** how long a read body may wait for the main thread before it is refused (tests set it; default MAX_PARSE_WAIT_MS) */
  maxParseWaitMs?: number;
  sources?: SourceStore;
  limiter?: RateLimiter;
  logger?: Logger;
}

function urlOf(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<Listener> {
  await app.listen({ port, host });
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return { app, url: urlOf(host, bound), port: bound };
}

export async function startServer(config: Config, parts: ServerParts = {}): Promise<RunningServer> {
  const logger = parts.logger ?? pino({ level: config.logLevel });
  const metrics = createMetrics();
  const memory = new MemoryOutcomes();
  // On the embedded store the counts are kept with the events; in memory only where they cannot be.
  const sink = parts.sink ?? (await openSink(config, logger, metrics));
  const accounting = new Accounting(metrics, sink instanceof EmbeddedSink ? undefined : memory);
  // What is opened so far is closed again when a later part cannot be opened (a damaged database,
  // an unreachable PostgreSQL): the sink's threads and the pools must not keep the process up.
  const opened: { close(): Promise<void> | void }[] = [sink];
  let sources: CachedSourceStore;
  let limiter: RateLimiter;
  let plans: PlanRegistry;
  let failedEvents: Awaited<ReturnType<typeof openFailedEvents>>;
  try {
    sources = new CachedSourceStore(parts.sources ?? (await openSourceStore(config, logger)), { logger: logger.child({ component: 'sources' }) });
    opened.push(sources);
    limiter = parts.limiter ?? (await openLimiter(config, logger));
    opened.push(limiter);
    plans = new PlanRegistry(sources.plans, { logger: logger.child({ component: 'plans' }) });
    opened.push(plans);
    failedEvents = await openFailedEvents(config, sink, accounting, memory, plans, logger);
  } catch (error) {
    await Promise.allSettled(opened.map(async (part) => part.close()));
    throw error;
  }
  const { failed, outcomes, samples, live } = failedEvents;
  const planService = new PlanService({ sources, samples, onChange: (sourceId, version) => plans.applied(sourceId, version) });
  const closeParts = () => { plans.close(); return Promise.allSettled([sink.close(), sources.close(), limiter.close(), failed.close()]); };

  let defaultSource: (Source & { writeKey?: string }) | undefined;
  let adminToken: string | undefined;
  const tokens = new AdminTokens(sources);
  try {
    defaultSource = await sources.ensureDefault();
    // Keys rotated or revoked anywhere are refused here within a second or so.
    await sources.watch();
    adminToken = await tokens.ensure();
    await plans.start();
  } catch (error) {
    await closeParts();
    throw error;
  }
  const app = buildApp({ config, sink, sources, limiter, metrics, accounting, logger, plans: plans.lookup, bodyWait: parts.bodyWait, maxParseWaitMs: parts.maxParseWaitMs });
  let publicUrl = '';
  const adminApp = buildAdminApp({
    tokens, sources, failed, outcomes, metrics, plans: planService, logger: logger.child({ component: 'admin' }),
    sink, live: new LiveHub(live), publicUrl: () => publicUrl, samples, trustedProxies: trustedProxyList(config.trustedProxies),
  });
  let publicListener: Listener;
  let adminListener: Listener;
  try {
    publicListener = await listen(app, config.host, config.port);
    publicUrl = publicListener.url;
    adminListener = await listen(adminApp, config.admin.host, config.admin.port);
  } catch (error) {
    // A port in use must not leave the writer thread and connections keeping the process alive.
    await Promise.allSettled([app.close(), adminApp.close()]);
    await closeParts();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    // Stop accepting and let in-flight requests finish (their events reach the sink) first — for
    // at most SHUTDOWN_DRAIN_MS: a client stuck mid-body must not keep the process from exiting.
    // Whatever is still open then is closed; its requests were not acknowledged, so nothing
    // acknowledged is lost. The sink's close then waits for every write it has taken.
    const drained = Promise.allSettled([app.close(), adminApp.close()]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, config.shutdownDrainMs, 'late'); });
    if ((await Promise.race([drained, late])) === 'late') {
      logger.warn({ drainMs: config.shutdownDrainMs }, 'shutdown: requests still open after the drain; closing their connections');
      app.server.closeAllConnections();
      adminApp.server.closeAllConnections();
      await drained;
    }
    clearTimeout(timer);
    await closeParts();
  })());
  return { ...publicListener, sink, sources, failed, plans, admin: adminListener, adminToken, defaultSource, close };
}
