// Kafka for tests: private clusters started through scripts/kafka (for tests that stop or kill
// brokers), and helpers to create topics and read a topic back in full.
// Normal suites use the shared broker from KAFKA_BROKERS instead (see needKafka).
import { createTopics } from '@inlet/kafka';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePortBlock } from './ports.ts';
import { Consumer, FetchIsolationLevels, stringDeserializers, type Message } from '@platformatic/kafka';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../../../scripts/kafka');

export interface KafkaNode {
  id: number;
  port: number;
  /** null while the node is stopped */
  pid: number | null;
}

export interface KafkaCluster {
  /** `host:port,host:port` */
  bootstrap: string;
  /** the bootstrap address as a list, for clients */
  brokers: string[];
  dir: string;
  nodes: KafkaNode[];
  /** SIGTERM (clean shutdown) or, with kill, SIGKILL; resolves once the process is gone */
  stopNode(id: number, options?: { kill?: boolean }): Promise<void>;
  /** restarts a stopped node on its old data; resolves once it serves metadata */
  startNode(id: number): Promise<void>;
  /** stops every node and removes the cluster's directory */
  stop(): Promise<void>;
}

interface ClusterState {
  bootstrap: string;
  nodes: { id: number; port: number; pid: number | null }[];
}

async function kafka(args: string[]): Promise<string> {
  try {
    const { stdout } = await run(SCRIPT, args, { maxBuffer: 1 << 20 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`scripts/kafka ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

// Brokers run detached from the test process; if a test run dies before stop(), kill them
// rather than leave JVMs behind on a shared machine.
const running = new Set<KafkaCluster>();
process.once('exit', () => {
  for (const cluster of running) {
    for (const node of cluster.nodes) {
      if (node.pid) try { process.kill(node.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
});

/** A private cluster on free loopback ports (nodes and controllers each on a block of consecutive ports). */
export async function startKafkaCluster(options: { brokers: 1 | 3 }): Promise<KafkaCluster> {
  const { brokers } = options;
  if (brokers !== 1 && brokers !== 3) throw new Error(`brokers must be 1 or 3, got ${brokers}`);
  const dir = mkdtempSync(join(tmpdir(), 'inlet-kafka-test-'));
  const read = (): ClusterState => JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'));
  // Another process may take a port between our check and the broker's bind: try fresh ports then.
  for (let attempt = 1; ; attempt++) {
    const port = await freePortBlock(brokers);
    const controllerPort = await freePortBlock(brokers);
    try {
      await kafka(['start', '--port', String(port), '--controller-port', String(controllerPort), '--brokers', String(brokers), '--dir', dir]);
      break;
    } catch (error) {
      await kafka(['stop', '--dir', dir, '--kill']).catch(() => undefined);
      if (attempt < 3 && /already in use|BindException/i.test(String((error as Error).message))) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }
  const state = read();
  const cluster: KafkaCluster = {
    bootstrap: state.bootstrap,
    brokers: state.bootstrap.split(','),
    dir,
    nodes: state.nodes.map(({ id, port, pid }) => ({ id, port, pid })),
    async stopNode(id, { kill = false } = {}) {
      await kafka(['stop', '--dir', dir, '--node', String(id), ...(kill ? ['--kill'] : [])]);
      refresh();
    },
    async startNode(id) {
      await kafka(['start', '--dir', dir, '--node', String(id)]);
      refresh();
    },
    async stop() {
      await kafka(['stop', '--dir', dir]);
      refresh();
      running.delete(cluster);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const refresh = () => {
    const now = read();
    for (const node of cluster.nodes) node.pid = now.nodes.find((n) => n.id === node.id)?.pid ?? null;
  };
  running.add(cluster);
  return cluster;
}

const brokerList = (bootstrap: string | string[]) => (Array.isArray(bootstrap) ? bootstrap : bootstrap.split(','));

/** Creates a topic and waits until every partition has a leader (what `inlet topics create` does). */
export async function createTopic(
  bootstrap: string | string[],
  name: string,
  options: { partitions: number; replicationFactor: number; minInsyncReplicas?: number },
): Promise<void> {
  const { created } = await createTopics({ brokers: brokerList(bootstrap), topics: [name], clientId: 'inlet-testkit-admin', ...options });
  if (created.length === 0) throw new Error(`topic ${name} already exists`);
}

export interface ReadRecord {
  key: string | undefined;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: bigint;
}

/**
 * Every record in the topic, from the earliest offset up to the end offsets seen when called
 * (the last stable offsets with read_committed). Partition order is kept; partitions are
 * concatenated in arrival order.
 */
export async function readAll(
  bootstrap: string | string[],
  topic: string,
  options: { isolation?: 'read_committed' | 'read_uncommitted'; timeoutMs?: number } = {},
): Promise<ReadRecord[]> {
  const isolationLevel = options.isolation === 'read_committed' ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const consumer = new Consumer({
    clientId: 'inlet-testkit-reader',
    groupId: `inlet-testkit-read-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    bootstrapBrokers: brokerList(bootstrap),
    deserializers: stringDeserializers,
    isolationLevel,
  });
  try {
    const ends = (await consumer.listOffsets({ topics: [topic], isolationLevel })).get(topic) ?? [];
    // Transaction markers and aborted records take offsets but are never delivered, so the
    // last delivered offset can stay below the end; a quiet period then ends the read.
    const done = new Set(ends.flatMap((end, partition) => (end === 0n ? [partition] : [])));
    if (done.size === ends.length) return [];
    const records: ReadRecord[] = [];
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, isolationLevel, maxWaitTime: 200 });
    await new Promise<void>((finish, fail) => {
      let quiet: NodeJS.Timeout | undefined;
      const overall = setTimeout(() => { cleanup(); fail(new Error(`readAll(${topic}) did not reach the end offsets within ${timeoutMs} ms`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(overall); clearTimeout(quiet); stream.off('data', onData); stream.off('error', onError); };
      const armQuiet = () => {
        clearTimeout(quiet);
        if (records.length > 0) quiet = setTimeout(() => { cleanup(); finish(); }, 2000);
      };
      const onError = (error: Error) => { cleanup(); fail(error); };
      const onData = (message: Message<string, string, string, string>) => {
        const end = ends[message.partition] ?? 0n;
        if (message.offset >= end) return; // written after readAll was called
        records.push({
          key: message.key,
          value: message.value ?? '',
          headers: Object.fromEntries(message.headers),
          partition: message.partition,
          offset: message.offset,
        });
        if (message.offset + 1n >= end) done.add(message.partition);
        if (done.size === ends.length) { cleanup(); finish(); } else armQuiet();
      };
      stream.on('data', onData);
      stream.on('error', onError);
    });
    await stream.close();
    return records;
  } finally {
    await consumer.close(true);
  }
}
