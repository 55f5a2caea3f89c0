// Helpers for the processor's integration tests and bench: topics, raw events, reading a topic.
import { Producer } from '@platformatic/kafka';
import { createAdmin, createFetcher, forceClose, type FetchedRecord } from '@inlet/kafka';
import { randomUUID } from 'node:crypto';
import { readRawRecords } from '@inlet/testkit';

export interface RawEventSpec {
  messageId: string | undefined;
  sourceId: string;
  userId: string;
  receivedAt: number;
  event?: string;
  timestamp?: string;
}

/** A raw-events record laid out like the server's Kafka sink writes it (packages/schema record.ts). */
export function rawRecord(topic: string, spec: RawEventSpec) {
  const receivedAt = new Date(spec.receivedAt).toISOString();
  const value: Record<string, unknown> = {
    type: 'track',
    event: spec.event ?? 'button_clicked',
    userId: spec.userId,
    sourceId: spec.sourceId,
    receivedAt,
    timestamp: spec.timestamp ?? receivedAt,
    originalTimestamp: spec.timestamp ?? receivedAt,
    context: { ip: '203.0.113.0', library: { name: 'test', version: '1' } },
    properties: { plan: 'pro', step: 3, label: 'a label to give the value a realistic size' },
  };
  if (spec.messageId !== undefined) value.messageId = spec.messageId;
  // Without serializers the client wants Buffers everywhere, header names included.
  const headers = new Map<Buffer, Buffer>([[Buffer.from('source-id'), Buffer.from(spec.sourceId)], [Buffer.from('event-type'), Buffer.from('track')]]);
  if (spec.messageId !== undefined) headers.set(Buffer.from('message-id'), Buffer.from(spec.messageId));
  return { topic, key: Buffer.from(spec.userId), value: Buffer.from(JSON.stringify(value)), headers };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

export async function createTopics(brokers: string[], topics: string[], partitions: number): Promise<void> {
  const admin = createAdmin({ brokers, clientId: 'processor-test-admin' });
  try {
    await admin.createTopics({ topics, partitions, replicas: 1 });
  } finally {
    await forceClose(admin);
  }
}

export async function deleteTopics(brokers: string[], topics: string[]): Promise<void> {
  const admin = createAdmin({ brokers, clientId: 'processor-test-admin' });
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present });
  } finally {
    await forceClose(admin);
  }
}

type RawMessage = ReturnType<typeof rawRecord> & { partition?: number };

/** An idempotent producer of raw records, as the server's sink writes them. */
export function rawProducer(brokers: string[]): Producer {
  return new Producer({ clientId: 'processor-test-producer', bootstrapBrokers: brokers, idempotent: true, retries: 10, retryDelay: 250 });
}

/** Produces in chunks with an idempotent producer, as the server's sink does. */
export async function produceRaw(brokers: string[], messages: RawMessage[], chunk = 2000): Promise<void> {
  const producer = rawProducer(brokers);
  try {
    for (let i = 0; i < messages.length; i += chunk) await producer.send({ messages: messages.slice(i, i + chunk) });
  } finally {
    await producer.close();
  }
}

/** Every committed record of a topic (read_committed, aborted transactions filtered correctly). */
export function readCommitted(brokers: string[], topic: string): Promise<FetchedRecord[]> {
  return readRawRecords(brokers, topic, { timeoutMs: 60_000 });
}

export function messageIdOf(record: FetchedRecord): string {
  return JSON.parse(record.value!.toString()).messageId;
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Input records not yet covered by the group's committed offsets. */
export async function groupLag(brokers: string[], groupId: string, topic: string): Promise<bigint> {
  const admin = createAdmin({ brokers, clientId: 'processor-test-lag' });
  try {
    const metadata = await admin.metadata({ topics: [topic] });
    const partitions = [...Array(metadata.topics.get(topic)!.partitionsCount).keys()];
    const ends = await admin.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }], isolationLevel: 1 });
    const groups = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    const committed = new Map<number, bigint>();
    for (const t of groups[0]?.topics ?? []) if (t.name === topic) for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset);
    let lag = 0n;
    for (const p of ends[0].partitions) {
      const c = committed.get(p.partitionIndex) ?? -1n;
      lag += p.offset - (c < 0n ? 0n : c);
    }
    return lag;
  } finally {
    await forceClose(admin);
  }
}

/** Data records in a topic regardless of transaction outcome (read_uncommitted), for diagnostics. */
export async function countUncommitted(brokers: string[], topic: string): Promise<number> {
  const consumer = createFetcher({ brokers, clientId: 'processor-test-counter' });
  try {
    const metadata = await consumer.metadata({ topics: [topic] });
    const t = metadata.topics.get(topic)!;
    let count = 0;
    for (let partition = 0; partition < t.partitionsCount; partition++) {
      let offset = 0n;
      for (;;) {
        const response = await consumer.fetch({
          node: t.partitions[partition].leader,
          topics: [{ topicId: t.id, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 4 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
          maxWaitTime: 10, minBytes: 1, maxBytes: 8 << 20, isolationLevel: 0,
        });
        const p = response.responses[0]?.partitions[0];
        const batches = p?.records ?? [];
        if (batches.length === 0) break;
        for (const batch of batches) {
          if (!(batch.attributes & 0b10_0000)) count += batch.records.filter((r) => batch.firstOffset + BigInt(r.offsetDelta) >= offset).length;
        }
        const last = batches[batches.length - 1];
        offset = last.firstOffset + BigInt(last.lastOffsetDelta) + 1n;
        if (offset >= p!.highWatermark) break;
      }
    }
    return count;
  } finally {
    await forceClose(consumer);
  }
}
