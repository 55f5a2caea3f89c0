// The local Kafka broker for a benchmark run (scripts/kafka), and fresh topics per server run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createAdmin, createTopics, forceClose } from '@inlet/kafka';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../../scripts/kafka');

export interface Broker {
  bootstrap: string;
  /** false when KAFKA_BROKERS pointed at a broker someone else runs */
  owned: boolean;
  stop(): Promise<void>;
}

/** Uses KAFKA_BROKERS when set; otherwise starts a one-node broker on `port` in a private directory. */
export async function startBroker(port: number): Promise<Broker> {
  if (process.env.KAFKA_BROKERS) return { bootstrap: process.env.KAFKA_BROKERS, owned: false, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'inlet-bench-kafka-'));
  const stop = async () => {
    await run(SCRIPT, ['stop', '--dir', dir]).catch(() => run(SCRIPT, ['stop', '--dir', dir, '--kill']).catch(() => undefined));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { stdout } = await run(SCRIPT, ['start', '--port', String(port), '--dir', dir], { maxBuffer: 1 << 20 });
    const bootstrap = stdout.trim().split('\n').pop()!;
    return { bootstrap, owned: true, stop };
  } catch (error) {
    await stop();
    const e = error as { stderr?: string; message: string };
    throw new Error(`scripts/kafka start failed: ${e.stderr?.trim() || e.message}`);
  }
}

// The harness's own Kafka work goes through @inlet/kafka, the client Inlet ships; only the
// reference baseline server keeps kafkajs, as the collector it stands for.
const CLIENT_ID = 'inlet-bench-admin';
const EARLIEST = -2n;
const LATEST = -1n;
const READ_UNCOMMITTED = 0;

/** Creates `name` and waits for its partition leaders. */
export async function createTopic(bootstrap: string, name: string, partitions: number): Promise<void> {
  await createTopics({ brokers: bootstrap, topics: [name], partitions, replicationFactor: 1, clientId: CLIENT_ID });
}

/** How many records the topic holds (sum of the partitions' high watermarks less their starts; nothing is deleted during a run). */
export async function countRecords(bootstrap: string, name: string): Promise<number> {
  const admin = createAdmin({ brokers: bootstrap, clientId: CLIENT_ID });
  try {
    const metadata = await admin.metadata({ topics: [name], forceUpdate: true });
    const partitions = [...Array(metadata.topics.get(name)?.partitionsCount ?? 0).keys()];
    const at = async (timestamp: bigint) => {
      const [listed] = await admin.listOffsets({ topics: [{ name, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }], isolationLevel: READ_UNCOMMITTED });
      return listed.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    };
    return (await at(LATEST)) - (await at(EARLIEST));
  } finally {
    await forceClose(admin);
  }
}

/** Deletes `name` so a long run does not fill the broker's disk; failures only cost disk space. */
export async function deleteTopic(bootstrap: string, name: string): Promise<void> {
  const admin = createAdmin({ brokers: bootstrap, clientId: CLIENT_ID, requestTimeoutMs: 10_000 });
  try {
    await admin.deleteTopics({ topics: [name] });
  } catch {
    /* best effort */
  } finally {
    await forceClose(admin);
  }
}
