// Answers "can this topic be written to now?" for a readiness check: the cluster answers metadata
// for it within a bound and lists its partitions. One admin client is kept between checks; after
// a failed check the next one starts a fresh client, since the old one may hold connections to a
// broker that is gone.
import type { Admin } from '@platformatic/kafka';
import { createAdmin, forceClose, within } from './clients.ts';
import { checkTopicName, parseBrokers } from '@inlet/kafka/contract';

export interface TopicProbeOptions {
  brokers: string[] | string;
  clientId: string;
  topic: string;
  /** the whole check's bound (connecting included) */
  timeoutMs: number;
}

export class TopicProbe {
  readonly #options: TopicProbeOptions;
  #admin: Admin | undefined;

  constructor(options: TopicProbeOptions) {
    this.#options = { ...options, brokers: parseBrokers(options.brokers), topic: checkTopicName(options.topic) };
  }

  /** Resolves when the topic is there and the cluster answered; rejects with the reason otherwise. */
  async check(): Promise<void> {
    const { brokers, clientId, topic, timeoutMs } = this.#options;
    const admin = (this.#admin ??= createAdmin({ brokers, clientId, retries: 0, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs }));
    try {
      // The client's timeouts bound each request, not the call with its connection attempts.
      const metadata = await within(admin.metadata({ topics: [topic], forceUpdate: true }), timeoutMs, 'metadata');
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      if (partitions.length === 0) throw new Error(`topic ${topic} does not exist (create it with \`inlet topics create\`)`);
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
