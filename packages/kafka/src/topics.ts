// Creating the topics Inlet writes to (`inlet topics create`; brokers do not auto-create them in
// production). Idempotent: topics that already exist are left as they are and reported.
import { ConfigResourceTypes, IncrementalAlterConfigOperationTypes, type Admin } from '@platformatic/kafka';
import { createAdmin, forceClose } from './clients.ts';
import { brokerList, kafkaSecurity, topicName, type KafkaSecurity } from '@inlet/kafka/contract';
import { checkSettings, integer, invalid, list, rule, text } from '@inlet/schema/settings';
import { errorDetails, hasProtocolError } from './errors.ts';

export interface CreateTopicsOptions {
  /** bootstrap brokers: a list, or a comma-separated string, of host:port */
  brokers: string[] | string;
  security?: KafkaSecurity;
  topics: string[];
  partitions: number;
  replicationFactor: number;
  /** min.insync.replicas for the new topics; the broker default when omitted */
  minInsyncReplicas?: number;
  /** more topic configs for some of the new topics, by topic name (e.g. retention.ms for failed-events) */
  topicConfigs?: Record<string, Record<string, string>>;
  clientId?: string;
  /** how long to wait for every new partition to get a leader (default 30 s) */
  timeoutMs?: number;
}

export interface CreateTopicsResult {
  created: string[];
  /** already there; `partitions` is what they have, which may differ from what was asked */
  existing: { topic: string; partitions: number }[];
}

const CREATE_TOPICS = {
  brokers: brokerList,
  security: kafkaSecurity.optional(),
  topics: list(topicName, { nonEmpty: true, expects: 'a non-empty list of topic names' }),
  partitions: integer(1, 1_000_000),
  replicationFactor: integer(1, 1000),
  minInsyncReplicas: integer(1, 1000).optional(),
  topicConfigs: rule((v) => v as Record<string, Record<string, string>>).optional(),
  clientId: text().optional(),
  timeoutMs: integer(1, 3_600_000).optional(),
};

function check(o: CreateTopicsOptions): void {
  const c = checkSettings(CREATE_TOPICS, o as unknown as Record<string, unknown>, { label: 'createTopics' });
  if (c.minInsyncReplicas !== undefined && c.minInsyncReplicas > c.replicationFactor) {
    throw invalid('minInsyncReplicas', `(${c.minInsyncReplicas}) cannot exceed replicationFactor (${c.replicationFactor}); no write could ever succeed`, 'createTopics');
  }
}

export async function createTopics(options: CreateTopicsOptions): Promise<CreateTopicsResult> {
  check(options);
  const admin = createAdmin({ brokers: options.brokers, security: options.security, clientId: options.clientId ?? 'inlet-topics' });
  try {
    let present: Set<string>;
    try {
      present = new Set(await admin.listTopics());
    } catch (error) {
      throw new Error(`cannot list the topics: ${errorDetails(error)}`, { cause: error });
    }
    const wanted = [...new Set(options.topics)];
    const created: string[] = [];
    for (const topic of wanted.filter((t) => !present.has(t))) {
      try {
        await admin.createTopics({
          topics: [topic],
          partitions: options.partitions,
          replicas: options.replicationFactor,
          configs: [
            ...(options.minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(options.minInsyncReplicas) }]),
            ...Object.entries(options.topicConfigs?.[topic] ?? {}).map(([name, value]) => ({ name, value })),
          ],
        });
        created.push(topic);
      } catch (error) {
        // Someone else created it between our listing and our request: that is fine too.
        if (!hasProtocolError(error, 'TOPIC_ALREADY_EXISTS')) throw new Error(`cannot create topic ${topic}: ${errorDetails(error)}`, { cause: error });
      }
    }
    const metadata = await waitForLeaders(admin, wanted, options.timeoutMs ?? 30_000);
    return {
      created,
      existing: wanted.filter((t) => !created.includes(t)).map((topic) => ({ topic, partitions: metadata.get(topic) ?? 0 })),
    };
  } finally {
    await forceClose(admin);
  }
}

/** Waits until every partition of the topics has a leader; returns partition counts. */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let lastError: unknown;
    try {
      const metadata = await admin.metadata({ topics, forceUpdate: true });
      const counts = new Map(topics.map((t) => [t, metadata.topics.get(t)?.partitions.length ?? 0]));
      const led = topics.every((t) => {
        const partitions = metadata.topics.get(t)?.partitions ?? [];
        return partitions.length > 0 && partitions.every((p) => p && p.leader >= 0);
      });
      if (led) return counts;
    } catch (error) {
      lastError = error; // new topics can be briefly unknown to the broker that answers
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${topics.join(', ')} have no leader for every partition after ${timeoutMs} ms${lastError ? `: ${errorDetails(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The topic's configs as the brokers apply them (its own, or their defaults), for the names asked. */
export async function describeTopicConfigs(admin: Admin, topic: string, names: string[]): Promise<Map<string, string>> {
  const [description] = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: names }] });
  return new Map((description?.configs ?? []).filter((c) => c.value !== null && c.value !== undefined).map((c) => [c.name, String(c.value)]));
}

/** Sets the topic's own configs (others are left as they are). */
export async function setTopicConfigs(admin: Admin, topic: string, configs: Record<string, string>): Promise<void> {
  await admin.incrementalAlterConfigs({
    resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configs: Object.entries(configs).map(([name, value]) => ({ name, value, configOperation: IncrementalAlterConfigOperationTypes.SET })) }],
  });
}

/** Gives the topic `count` partitions if it has fewer (another client doing the same at once is fine). */
export async function growTopic(admin: Admin, topic: string, count: number): Promise<void> {
  try {
    await admin.createPartitions({ topics: [{ name: topic, count }] });
  } catch (error) {
    if (!hasProtocolError(error, 'INVALID_PARTITIONS')) throw new Error(`cannot give ${topic} ${count} partitions: ${errorDetails(error)}`, { cause: error });
  }
}

/** describeTopicConfigs with a client of its own. */
export async function topicConfigs(options: { brokers: string[] | string; security?: KafkaSecurity; clientId?: string }, topic: string, names: string[]): Promise<Map<string, string>> {
  const admin = createAdmin({ brokers: options.brokers, security: options.security, clientId: options.clientId ?? 'inlet-topics' });
  try {
    return await describeTopicConfigs(admin, topic, names);
  } finally {
    await forceClose(admin);
  }
}
