// The local Kafka broker for a benchmark run (scripts/kafka), and fresh topics per server run.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

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

function admin(bootstrap: string) {
  return new Kafka({ clientId: 'inlet-bench-admin', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
}

/** Creates `name` and waits for its partition leaders. */
export async function createTopic(bootstrap: string, name: string, partitions: number): Promise<void> {
  const a = admin(bootstrap);
  await a.connect();
  try {
    await a.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await a.disconnect();
  }
}

/** How many records the topic holds (sum of the partitions' high watermarks; nothing is deleted during a run). */
export async function countRecords(bootstrap: string, name: string): Promise<number> {
  const a = admin(bootstrap);
  await a.connect();
  try {
    const offsets = await a.fetchTopicOffsets(name);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await a.disconnect();
  }
}

/** Deletes `name` so a long run does not fill the broker's disk; failures only cost disk space. */
export async function deleteTopic(bootstrap: string, name: string): Promise<void> {
  const a = admin(bootstrap);
  try {
    await a.connect();
    await a.deleteTopics({ topics: [name], timeout: 10_000 });
  } catch {
    /* best effort */
  } finally {
    await a.disconnect().catch(() => undefined);
  }
}
