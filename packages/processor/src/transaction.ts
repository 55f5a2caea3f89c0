// The transactional write of one decided batch: changelog records, kept events and input offsets
// commit together or not at all (README, "Why it is exactly once").
import { commitOffsetsInTransaction, defaultPartition, type BufferProducer, type GroupMembership } from '@inlet/kafka';
import type { Consumer } from '@platformatic/kafka';
import type { Batch, OutputMessage } from './decide.ts';

/** Each partition's batch in one produce request stays under the default 1 MB max.message.bytes. */
const MAX_PARTITION_BATCH_BYTES = 900 * 1024;

export interface TransactionTarget {
  inputTopic: string;
  outputTopic: string;
  /** the assignment the batch was read under: its offsets are committed for this generation and member only */
  membership: GroupMembership;
}

function messageBytes(message: OutputMessage): number {
  let bytes = 32 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
  if (message.headers instanceof Map) for (const [k, v] of message.headers) bytes += k.length + v.length + 4;
  return bytes;
}

let roundRobin = 0;

/**
 * Writes and commits one batch in one transaction. Throws when anything fails; the transaction is
 * then left to the caller's recovery (a new producer with the same transactional id ends it).
 */
export async function commitBatch(producer: BufferProducer, consumer: Consumer, { changelog, outputs, advances }: Batch, target: TransactionTarget): Promise<void> {
  const transaction = await producer.beginTransaction();
  // The changelog goes first: it must be on the broker before the offsets are added (restore.ts).
  // Partitions are chosen here (where the client's default partitioner would put each key) to cut
  // the writes into requests of up to ~900 KB per partition.
  const outputPartitions = (await consumer.metadata({ topics: [target.outputTopic] })).topics.get(target.outputTopic)!.partitionsCount;
  let chunk: OutputMessage[] = [];
  let partitionBytes = new Map<string, number>();
  for (const message of [...changelog, ...outputs]) {
    if (message.partition === undefined) message.partition = message.key ? defaultPartition(message.key, outputPartitions) : roundRobin++ % outputPartitions;
    const target = `${message.topic}:${message.partition}`;
    const bytes = messageBytes(message);
    const before = partitionBytes.get(target) ?? 0;
    if (before > 0 && before + bytes > MAX_PARTITION_BATCH_BYTES) {
      await transaction.send({ messages: chunk });
      chunk = [];
      partitionBytes = new Map();
    }
    chunk.push(message);
    partitionBytes.set(target, (partitionBytes.get(target) ?? 0) + bytes);
  }
  if (chunk.length > 0) await transaction.send({ messages: chunk });
  await commitOffsetsInTransaction(transaction, consumer, target.inputTopic, advances, target.membership);
  await transaction.commit();
}
