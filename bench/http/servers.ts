// The servers under test and how to start each one as its own process.
import { resolve } from 'node:path';
import { applyBenchPlan } from './plan.ts';
import { attachViewer } from './viewer.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export type ServerName = 'inlet-embedded' | 'inlet-kafka' | 'inlet-kafka-lanes' | 'inlet-kafka-zstd' | 'inlet-embedded-plan' | 'inlet-kafka-plan'
  | 'inlet-embedded-old' | 'inlet-kafka-old' | 'inlet-embedded-viewer' | 'inlet-kafka-viewer' | 'inlet-embedded-unbounded' | 'inlet-kafka-unbounded'
  | 'reference' | 'ceiling';
/** What `npm run bench` runs unless --servers says otherwise. */
export const SERVER_NAMES: ServerName[] = ['inlet-embedded', 'inlet-kafka', 'reference', 'ceiling'];
/**
 * Variants run only when named: the Kafka sink's 'lanes' send mode and zstd (both against
 * inlet-kafka: pipelined, lz4), and each sink with a 100-event tracking plan in flag mode (./plan.ts).
 */
export const VARIANT_NAMES: ServerName[] = ['inlet-kafka-lanes', 'inlet-kafka-zstd', 'inlet-embedded-plan', 'inlet-kafka-plan', 'inlet-embedded-old', 'inlet-kafka-old',
  'inlet-embedded-viewer', 'inlet-kafka-viewer', 'inlet-embedded-unbounded', 'inlet-kafka-unbounded'];

/**
 * The '-old' variants run an older checkout of Inlet on another Node, to compare runtimes and
 * client versions in one run (issue 11: Node 20 + Kafka client 1.x against Node 24 + 2.x):
 * INLET_BENCH_OLD_CHECKOUT is that checkout (its node_modules built for that Node) and
 * INLET_BENCH_OLD_NODE its node binary.
 */
function oldCheckout(): { root: string; node: string } {
  const root = process.env.INLET_BENCH_OLD_CHECKOUT;
  const node = process.env.INLET_BENCH_OLD_NODE;
  if (!root || !node) throw new Error('the -old servers need INLET_BENCH_OLD_CHECKOUT (an older checkout, installed) and INLET_BENCH_OLD_NODE (its node binary)');
  return { root, node };
}

export interface ServerContext {
  port: number;
  /** a fresh, empty directory for this server run */
  dataDir: string;
  /** set for servers that need Kafka: the broker and a topic created fresh for this run */
  kafka?: { bootstrap: string; topic: string; failedTopic: string };
}

export interface LaunchSpec {
  /** the node binary (default: the one running the harness) */
  node?: string;
  /** node's arguments after the node flags the harness adds (such as --cpu-prof) */
  args: string[];
  env: Record<string, string>;
  /** a stdout line that means the server is listening; group 1, if any, is the write key */
  ready: RegExp;
  /** polled until 2xx after the ready line */
  readyPath: string;
  /** used when the ready line does not carry one */
  writeKey: string;
}

export interface ServerDefinition {
  name: ServerName;
  needsKafka: boolean;
  /** Inlet's own servers, whose tail latency at half of peak is reported */
  isInlet: boolean;
  launch(ctx: ServerContext): LaunchSpec;
  /** run once the server answers, before the load (the plan variants put their plan here) */
  prepare?(ctx: ServerContext, url: string, writeKey: string, banner: string[]): Promise<void>;
}

/**
 * The V8 flag Inlet is launched with (`npm start`, `bin/inlet.js`). Every server under test gets
 * it, baselines included, so the comparison stays about the code.
 */
const NODE_FLAGS = ['--max-semi-space-size=64'];

/** The allocator setting Inlet is launched with (`bin/inlet.js`), for every server alike, like the flag. */
const LAUNCH_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** Far above anything the benchmark sends, so limits are checked but never hit. */
const GENEROUS_LIMITS = { RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000000', RATE_LIMIT_EVENTS_PER_MINUTE: '100000000000' };

function inlet(ctx: ServerContext, sinkSettings: Record<string, string> = {}): LaunchSpec {
  return {
    args: [...NODE_FLAGS, resolve(ROOT, 'packages/server/bin/inlet.js'), 'serve'],
    env: {
      ...LAUNCH_ENV,
      PORT: String(ctx.port),
      HOST: '127.0.0.1',
      INLET_DATA_DIR: ctx.dataDir,
      LOG_LEVEL: 'warn',
      ADMIN_PORT: '0',
      ...GENEROUS_LIMITS,
      ...(ctx.kafka ? { KAFKA_BROKERS: ctx.kafka.bootstrap, KAFKA_TOPIC: ctx.kafka.topic, KAFKA_FAILED_TOPIC: ctx.kafka.failedTopic } : {}),
      ...sinkSettings,
    },
    ready: /Write key of the "default" source: (wk_\S+)/,
    readyPath: '/health/ready',
    writeKey: '',
  };
}

/** Inlet from the older checkout, on its node, with the same settings (its banner is the same). */
function inletOld(ctx: ServerContext): LaunchSpec {
  const old = oldCheckout();
  const spec = inlet(ctx);
  return { ...spec, node: old.node, args: [...NODE_FLAGS, resolve(old.root, 'packages/server/bin/inlet.js'), 'serve'] };
}

function baseline(dir: 'reference' | 'ceiling') {
  return (ctx: ServerContext): LaunchSpec => ({
    args: [...NODE_FLAGS, '--import', 'tsx', resolve(ROOT, `bench/baselines/${dir}/server.ts`)],
    env: {
      ...LAUNCH_ENV,
      PORT: String(ctx.port),
      HOST: '127.0.0.1',
      RATE_LIMIT_REQUESTS_PER_MINUTE: GENEROUS_LIMITS.RATE_LIMIT_REQUESTS_PER_MINUTE,
      ...(ctx.kafka ? { KAFKA_BROKERS: ctx.kafka.bootstrap, KAFKA_TOPIC: ctx.kafka.topic } : {}),
    },
    ready: new RegExp(`^${dir} listening on `),
    readyPath: '/v1/ping',
    writeKey: 'wk_bench_reference_key',
  });
}

export const SERVERS: Record<ServerName, ServerDefinition> = {
  'inlet-embedded': { name: 'inlet-embedded', needsKafka: false, isInlet: true, launch: (ctx) => inlet(ctx) },
  'inlet-kafka': { name: 'inlet-kafka', needsKafka: true, isInlet: true, launch: (ctx) => inlet(ctx) },
  'inlet-kafka-lanes': { name: 'inlet-kafka-lanes', needsKafka: true, isInlet: true, launch: (ctx) => inlet(ctx, { INLET_BENCH_KAFKA_SEND_MODE: 'lanes' }) },
  'inlet-kafka-zstd': { name: 'inlet-kafka-zstd', needsKafka: true, isInlet: true, launch: (ctx) => inlet(ctx, { KAFKA_COMPRESSION: 'zstd' }) },
  'inlet-embedded-plan': { name: 'inlet-embedded-plan', needsKafka: false, isInlet: true, launch: (ctx) => inlet(ctx), prepare: applyBenchPlan },
  'inlet-kafka-plan': { name: 'inlet-kafka-plan', needsKafka: true, isInlet: true, launch: (ctx) => inlet(ctx), prepare: applyBenchPlan },
  'inlet-embedded-viewer': { name: 'inlet-embedded-viewer', needsKafka: false, isInlet: true, launch: (ctx) => inlet(ctx), prepare: attachViewer },
  'inlet-kafka-viewer': { name: 'inlet-kafka-viewer', needsKafka: true, isInlet: true, launch: (ctx) => inlet(ctx), prepare: attachViewer },
  // Admission by the sink's rate off in effect (its bound at the sink's own cap): the A/B for SINK_MAX_QUEUE_MS.
  'inlet-embedded-unbounded': { name: 'inlet-embedded-unbounded', needsKafka: false, isInlet: true, launch: (ctx) => inlet(ctx, { SINK_MAX_QUEUE_MS: '60000' }) },
  'inlet-kafka-unbounded': { name: 'inlet-kafka-unbounded', needsKafka: true, isInlet: true, launch: (ctx) => inlet(ctx, { SINK_MAX_QUEUE_MS: '60000' }) },
  'inlet-embedded-old': { name: 'inlet-embedded-old', needsKafka: false, isInlet: true, launch: inletOld },
  'inlet-kafka-old': { name: 'inlet-kafka-old', needsKafka: true, isInlet: true, launch: inletOld },
  reference: { name: 'reference', needsKafka: true, isInlet: false, launch: baseline('reference') },
  ceiling: { name: 'ceiling', needsKafka: false, isInlet: false, launch: baseline('ceiling') },
};

export function parseServers(list: string): ServerDefinition[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((name) => {
    const server = SERVERS[name as ServerName];
    if (!server) throw new Error(`unknown server "${name}" (known: ${[...SERVER_NAMES, ...VARIANT_NAMES].join(', ')})`);
    return server;
  });
}
