// Kafka pieces the drills share: topics of their own on a cluster, and who leads a partition.
import { randomBytes } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { createTopic, startKafkaCluster, type KafkaCluster } from '@inlet/testkit';

export function topicName(prefix: string): string {
  return `chaos-${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A fresh topic; resolves once every partition has a leader. */
export async function freshTopic(brokers: string[], prefix: string, options: { partitions?: number; replicationFactor?: number; minInsyncReplicas?: number } = {}): Promise<string> {
  const name = topicName(prefix);
  await createTopic(brokers, name, { partitions: options.partitions ?? 3, replicationFactor: options.replicationFactor ?? 1, minInsyncReplicas: options.minInsyncReplicas });
  return name;
}

/** The node id leading partition 0 of the topic. */
export async function leaderOf(brokers: string[], topic: string): Promise<number> {
  const admin = new Admin({ clientId: 'inlet-chaos', bootstrapBrokers: brokers });
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    return metadata.topics.get(topic)!.partitions[0].leader;
  } finally {
    await admin.close();
  }
}

/**
 * One single-node cluster for the drills of a run that do not need a cluster of their own; started
 * on first use. A drill that stops its node starts it again; if one did not, it is restarted here.
 */
export function sharedKafka(): { get(): Promise<KafkaCluster>; stop(): Promise<void> } {
  let cluster: Promise<KafkaCluster> | undefined;
  return {
    async get() {
      cluster ??= startKafkaCluster({ brokers: 1 }).catch((error: unknown) => {
        cluster = undefined; // the next drill tries again
        throw error;
      });
      const c = await cluster;
      for (const node of c.nodes) if (node.pid === null) await c.startNode(node.id);
      return c;
    },
    async stop() {
      if (cluster) await (await cluster).stop();
      cluster = undefined;
    },
  };
}
