// What a consume-transform-produce loop needs from the client beyond sending: committing the input
// offsets inside the transaction, stamped with the consumer group generation and member they were
// read under (that stamp is what fences a zombie: the coordinator refuses offsets from a
// generation that moved on).
import type { Consumer, Message } from '@platformatic/kafka';

/** The part of the client's Transaction used here (the class itself is not exported). */
export interface OffsetTransaction {
  addConsumer(consumer: Consumer): Promise<void>;
  addOffset(message: Message): Promise<void>;
}

export interface GroupMembership {
  generationId: number;
  memberId: string;
}

export interface NextOffset {
  partition: number;
  /** the next offset to read, i.e. one past the last record processed */
  next: bigint;
}

/** Adds the consumer's group to the transaction and commits `offsets` of `topic` in it. */
export async function commitOffsetsInTransaction(transaction: OffsetTransaction, consumer: Consumer, topic: string, offsets: NextOffset[], member: GroupMembership): Promise<void> {
  await transaction.addConsumer(consumer);
  const coordinatorId = consumer.coordinatorId ?? (await consumer.findGroupCoordinator());
  for (const { partition, next } of offsets) {
    // WORKAROUND(@platformatic/kafka <= 2.12.1): Transaction.addOffset takes a consumed Message
    // and commits its offset + 1 with the group fields found in message.metadata.consumer; an
    // offset we computed ourselves is passed as a message of that shape.
    const message = {
      topic,
      partition,
      offset: next - 1n,
      metadata: { consumer: { groupId: consumer.groupId, generationId: member.generationId, memberId: member.memberId, coordinatorId } },
    } as unknown as Message;
    await transaction.addOffset(message);
  }
}
