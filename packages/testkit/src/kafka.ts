// Kafka for tests: private clusters started through scripts/kafka (for tests that stop or kill
// brokers), and helpers to create topics and read a topic back in full (committed records only).
// Normal suites use the shared broker from KAFKA_BROKERS instead (see needKafka).
import { createAdmin, createFetcher, createTopics, fetchCommitted, forceClose, KafkaWriter, type FetchedRecord } from '@inlet/kafka';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePortBlock } from './ports.ts';

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
  /** with `secure`: the SASL_PLAINTEXT listeners and their user, the SSL ones with the CA that signed them, and the SASL_SSL ones (both) */
  secure?: { sasl: { brokers: string[]; username: string; password: string }; tls: { brokers: string[]; caFile: string }; saslTls: { brokers: string[] } };
}

interface ClusterState {
  bootstrap: string;
  nodes: { id: number; host?: string; port: number; pid: number | null }[];
  security?: { saslPort: number; username: string; password: string; sslPort: number; saslSslPort: number; caFile: string };
}

/** Runs scripts/kafka, inside network namespace `netns` when given (ip netns exec). */
async function kafka(args: string[], netns?: string): Promise<string> {
  try {
    const [command, commandArgs] = netns ? ['ip', ['netns', 'exec', netns, SCRIPT, ...args]] : [SCRIPT, args];
    const { stdout } = await run(command, commandArgs, { maxBuffer: 1 << 20 });
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

export interface KafkaClusterOptions {
  brokers: 1 | 3;
  /**
   * Run the nodes inside this network namespace, listening on (and advertising) `host`, an
   * address of the namespace that the caller can route to (e.g. one end of a veth pair), so
   * that a test can partition the brokers from the rest by taking that link down.
   */
  netns?: { name: string; host: string };
  /** also SASL_PLAINTEXT (PLAIN, SCRAM) and SSL listeners, on free ports of their own (scripts/kafka --sasl-port, --ssl-port) */
  secure?: boolean;
}

/** A private cluster on free ports (nodes and controllers each on a block of consecutive ports), on loopback unless `netns` says otherwise. */
export async function startKafkaCluster(options: KafkaClusterOptions): Promise<KafkaCluster> {
  const { brokers, netns, secure } = options;
  if (brokers !== 1 && brokers !== 3) throw new Error(`brokers must be 1 or 3, got ${brokers}`);
  const dir = mkdtempSync(join(tmpdir(), 'inlet-kafka-test-'));
  const read = (): ClusterState => JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8'));
  // Another process may take a port between our check and the broker's bind: try fresh ports then.
  for (let attempt = 1; ; attempt++) {
    // Secured: one block for all five listeners' ports, so none can be handed out twice.
    const block = secure ? await freePortBlock(5 * brokers) : undefined;
    const port = block ?? (await freePortBlock(brokers));
    const controllerPort = block === undefined ? await freePortBlock(brokers) : block + brokers;
    const securePorts = block === undefined ? [] : ['--sasl-port', String(block + 2 * brokers), '--ssl-port', String(block + 3 * brokers), '--sasl-ssl-port', String(block + 4 * brokers)];
    try {
      await kafka(['start', '--port', String(port), '--controller-port', String(controllerPort), '--brokers', String(brokers), '--dir', dir,
        ...(netns ? ['--host', netns.host] : []), ...securePorts], netns?.name);
      break;
    } catch (error) {
      await kafka(['stop', '--dir', dir, '--kill']).catch(() => undefined);
      if (attempt < 3 && /already in use|BindException/i.test(String((error as Error).message))) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }
  const state = read();
  const listeners = (first: number) => state.nodes.map((n) => `${n.host ?? '127.0.0.1'}:${first + n.id - 1}`);
  const security = state.security;
  const cluster: KafkaCluster = {
    ...(security && {
      secure: {
        sasl: { brokers: listeners(security.saslPort), username: security.username, password: security.password },
        tls: { brokers: listeners(security.sslPort), caFile: security.caFile },
        saslTls: { brokers: listeners(security.saslSslPort) },
      },
    }),
    bootstrap: state.bootstrap,
    brokers: state.bootstrap.split(','),
    dir,
    nodes: state.nodes.map(({ id, port, pid }) => ({ id, port, pid })),
    async stopNode(id, { kill = false } = {}) {
      await kafka(['stop', '--dir', dir, '--node', String(id), ...(kill ? ['--kill'] : [])]);
      refresh();
    },
    async startNode(id) {
      await kafka(['start', '--dir', dir, '--node', String(id)], netns?.name);
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

/** Writes records as they are, for tests that put on a topic what Inlet would not (a foreign record, say). */
export async function produceRecords(bootstrap: string | string[], topic: string, records: { key?: string; value: string | Buffer; headers?: Record<string, string> }[]): Promise<void> {
  const writer = new KafkaWriter({ brokers: brokerList(bootstrap), clientId: 'inlet-testkit-producer', retries: 5 });
  try {
    await writer.send(records.map(({ key, value, headers }) => ({ topic, key, value, ...(headers ? { headers: new Map(Object.entries(headers)) } : {}) })));
  } finally {
    await writer.close();
  }
}

export interface ReadRecord {
  key: string | undefined;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: bigint;
}

export type RawRecord = FetchedRecord & { partition: number };

/**
 * Every committed record of the topic (aborted transactions left out, @inlet/kafka's
 * fetchCommitted), from the start up to the end offsets when called. A transaction still open
 * then (or its marker not yet written) is waited for, up to `timeoutMs`; past that the read fails
 * rather than return less. Partition order is kept; partitions come one after another.
 */
export async function readRawRecords(bootstrap: string | string[], topic: string, options: { timeoutMs?: number } = {}): Promise<RawRecord[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const client = { brokers: brokerList(bootstrap), clientId: 'inlet-testkit-reader' };
  const admin = createAdmin(client);
  const fetcher = createFetcher(client);
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    const partitions = [...Array(metadata.topics.get(topic)!.partitionsCount).keys()];
    const ends = async (isolationLevel: 0 | 1) => {
      const listed = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }], isolationLevel });
      return new Map(listed[0].partitions.map((p) => [p.partitionIndex, p.offset]));
    };
    // A transaction still open holds back everything after it: wait for it rather than read less.
    const deadline = Date.now() + timeoutMs;
    let stable = await ends(1);
    for (;;) {
      const high = await ends(0);
      const open = partitions.filter((p) => stable.get(p) !== high.get(p));
      if (open.length === 0) break;
      if (Date.now() > deadline) throw new Error(`readRawRecords(${topic}): partitions ${open.join(', ')} still have an open transaction after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      stable = await ends(1);
    }
    const positions = new Map<number, bigint>();
    for (const p of partitions) if ((stable.get(p) ?? 0n) > 0n) positions.set(p, 0n);
    const records: RawRecord[] = [];
    const until = Date.now() + timeoutMs;
    while (positions.size > 0) {
      if (Date.now() > until) throw new Error(`readRawRecords(${topic}) did not reach the end offsets within ${timeoutMs} ms`);
      const fetched = await fetchCommitted(fetcher, topic, positions, { maxWaitTime: 100, maxBytes: 8 << 20, partitionMaxBytes: 4 << 20 });
      for (const f of fetched) {
        const end = stable.get(f.partition)!;
        for (const r of f.records) if (r.offset < end) records.push({ ...r, partition: f.partition });
        if (f.nextOffset >= end) positions.delete(f.partition);
        else positions.set(f.partition, f.nextOffset);
      }
    }
    return records.sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  } finally {
    await Promise.all([forceClose(fetcher), forceClose(admin)]);
  }
}

/** readRawRecords with keys, values and headers as text (a repeated header: the last one). */
export async function readAll(bootstrap: string | string[], topic: string, options: { timeoutMs?: number } = {}): Promise<ReadRecord[]> {
  return (await readRawRecords(bootstrap, topic, options)).map((r) => ({
    key: r.key?.toString('utf8'),
    value: r.value?.toString('utf8') ?? '',
    headers: Object.fromEntries(r.headers.filter(([k]) => k !== null).map(([k, v]) => [k!.toString('utf8'), v?.toString('utf8') ?? ''])),
    partition: r.partition,
    offset: r.offset,
  }));
}
