// Answers "can this topic be written to now?" for a readiness check: the cluster answers metadata
// for it within a bound, and every partition has a live leader and at least min.insync.replicas
// live in-sync replicas — what an acks=all write needs; with fewer, the brokers refuse it
// (NOT_ENOUGH_REPLICAS) however reachable they are. The topic's min.insync.replicas (its own or the
// brokers' default) is asked once. One admin client is kept between checks; after a failed check
// the next one starts a fresh client, since the old one may hold connections to a broker that is gone.
import { ConfigResourceTypes, type Admin, type ClusterMetadata } from '@platformatic/kafka';
import { createAdmin, forceClose, within } from './clients.ts';
import { brokerList, topicName, type KafkaSecurity } from '@inlet/kafka/contract';
import { checkSetting } from '@inlet/schema/settings';

export interface TopicProbeOptions {
  brokers: string[] | string;
  security?: KafkaSecurity;
  clientId: string;
  topic: string;
  /** the whole check's bound (connecting included) */
  timeoutMs: number;
}

/** The topic's min.insync.replicas as the brokers apply it (its own setting, or their default). */
async function minInsyncReplicas(admin: Admin, topic: string): Promise<number> {
  const [description] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['min.insync.replicas'] }] });
  const value = Number(description?.configs.find((c) => c.name === 'min.insync.replicas')?.value ?? 1);
  return Number.isInteger(value) && value > 0 ? value : 1;
}

/** Throws, naming the first partition an acks=all write could not go to now. */
function writablePartitions(metadata: ClusterMetadata, topic: string, minIsr: number): void {
  const partitions = metadata.topics.get(topic)!.partitions;
  for (let i = 0; i < partitions.length; i++) {
    const { leader, isr, replicas } = partitions[i];
    if (leader < 0 || !metadata.brokers.has(leader)) throw new Error(`partition ${i} of ${topic} has no live leader`);
    // As the brokers count it: a topic with fewer replicas than min.insync.replicas needs them all.
    const needed = Math.min(minIsr, replicas.length);
    const live = isr.filter((id) => metadata.brokers.has(id)).length;
    if (live < needed) throw new Error(`partition ${i} of ${topic} has ${live} in-sync replica(s); min.insync.replicas is ${minIsr}`);
  }
}

export class TopicProbe {
  readonly #options: TopicProbeOptions;
  #admin: Admin | undefined;
  #minIsr: number | undefined;

  constructor(options: TopicProbeOptions) {
    this.#options = { ...options, brokers: checkSetting('brokers', brokerList, options.brokers), topic: checkSetting('topic', topicName, options.topic) };
  }

  /** Resolves when the topic is there and the cluster answered; rejects with the reason otherwise. */
  async check(): Promise<void> {
    const { brokers, security, clientId, topic, timeoutMs } = this.#options;
    const admin = (this.#admin ??= createAdmin({ brokers, security, clientId, retries: 0, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs }));
    try {
      // The client's timeouts bound each request, not the call with its connection attempts.
      const metadata = await within(admin.metadata({ topics: [topic], forceUpdate: true }), timeoutMs, 'metadata');
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      if (partitions.length === 0) throw new Error(`topic ${topic} does not exist (create it with \`inlet topics create\`)`);
      this.#minIsr ??= await within(minInsyncReplicas(admin, topic), timeoutMs, 'describeConfigs');
      writablePartitions(metadata, topic, this.#minIsr);
    } catch (error) {
      if (this.#admin === admin) this.#admin = undefined;
      void forceClose(admin);
      throw error;
    }
  }

  async close(): Promise<void> {
    const admin = this.#admin;
    this.#admin = undefined;
    if (admin) await forceClose(admin);
  }
}
