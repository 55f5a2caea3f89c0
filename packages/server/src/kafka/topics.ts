// `inlet topics create`: makes the topics Inlet writes to (brokers do not auto-create them in
// production). Idempotent: topics that already exist are left as they are and reported.
import { Admin } from '@platformatic/kafka';

export interface CreateTopicsOptions {
  /** bootstrap brokers, `host:port` */
  brokers: string[];
  topics: string[];
  partitions: number;
  replicationFactor: number;
  /** min.insync.replicas for the new topics; the broker default when omitted */
  minInsyncReplicas?: number;
  clientId?: string;
  /** how long to wait for every new partition to get a leader (default 30 s) */
  timeoutMs?: number;
}

export interface CreateTopicsResult {
  created: string[];
  /** already there; `partitions` is what they have, which may differ from what was asked */
  existing: { topic: string; partitions: number }[];
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

function check(o: CreateTopicsOptions): void {
  if (!Array.isArray(o.brokers) || o.brokers.length === 0) throw new TypeError('createTopics: brokers must be a non-empty list of host:port');
  if (!Array.isArray(o.topics) || o.topics.length === 0) throw new TypeError('createTopics: topics must be a non-empty list');
  for (const t of o.topics) if (typeof t !== 'string' || !TOPIC_NAME.test(t)) throw new TypeError(`createTopics: invalid topic name ${JSON.stringify(t)} (1-249 of [a-zA-Z0-9._-])`);
  const int = (name: string, v: unknown) => {
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw new RangeError(`createTopics: ${name} must be a positive integer, got ${String(v)}`);
  };
  int('partitions', o.partitions);
  int('replicationFactor', o.replicationFactor);
  if (o.minInsyncReplicas !== undefined) {
    int('minInsyncReplicas', o.minInsyncReplicas);
    if (o.minInsyncReplicas > o.replicationFactor) {
      throw new RangeError(`createTopics: minInsyncReplicas (${o.minInsyncReplicas}) cannot exceed replicationFactor (${o.replicationFactor}); no write could ever succeed`);
    }
  }
}

/** The protocol error id (e.g. TOPIC_ALREADY_EXISTS) inside a client error, if any. */
function errorIds(error: unknown): string[] {
  const ids: string[] = [];
  const visit = (e: unknown) => {
    if (!e || typeof e !== 'object') return;
    const { apiId, errors } = e as { apiId?: string; errors?: unknown[] };
    if (apiId) ids.push(apiId);
    if (Array.isArray(errors)) errors.forEach(visit);
  };
  visit(error);
  return ids;
}

function describe(error: unknown): string {
  const details: string[] = [];
  const visit = (e: unknown) => {
    if (!e || typeof e !== 'object') return;
    const { apiId, serverErrorMessage, errors, message } = e as { apiId?: string; serverErrorMessage?: string | null; errors?: unknown[]; message?: string };
    if (apiId) details.push(serverErrorMessage ? `${apiId}: ${serverErrorMessage}` : apiId);
    else if (!Array.isArray(errors) && message) details.push(message);
    if (Array.isArray(errors)) errors.forEach(visit);
  };
  visit(error);
  return details.join('; ') || String(error);
}

export async function createTopics(options: CreateTopicsOptions): Promise<CreateTopicsResult> {
  check(options);
  const admin = new Admin({ clientId: options.clientId ?? 'inlet-topics', bootstrapBrokers: options.brokers });
  try {
    const present = new Set(await admin.listTopics());
    const wanted = [...new Set(options.topics)];
    const created: string[] = [];
    for (const topic of wanted.filter((t) => !present.has(t))) {
      try {
        await admin.createTopics({
          topics: [topic],
          partitions: options.partitions,
          replicas: options.replicationFactor,
          configs: options.minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(options.minInsyncReplicas) }],
        });
        created.push(topic);
      } catch (error) {
        // Someone else created it between our listing and our request: that is fine too.
        if (!errorIds(error).includes('TOPIC_ALREADY_EXISTS')) throw new Error(`cannot create topic ${topic}: ${describe(error)}`, { cause: error });
      }
    }
    const metadata = await waitForLeaders(admin, wanted, options.timeoutMs ?? 30_000);
    return {
      created,
      existing: wanted.filter((t) => !created.includes(t)).map((topic) => ({ topic, partitions: metadata.get(topic) ?? 0 })),
    };
  } finally {
    await admin.close().catch(() => undefined);
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
      throw new Error(`topics ${topics.join(', ')} have no leader for every partition after ${timeoutMs} ms${lastError ? `: ${describe(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
