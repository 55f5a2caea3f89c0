// @inlet/kafka: everything Inlet knows about Kafka and its client, in one place. See README.md.
// The contract by its package name, not its file: a built index then imports the built contract
// instead of carrying a copy of it (one copy of its rules, whichever entry point loaded it).
export * from '@inlet/kafka/contract';
export {
  createIdempotentProducer, createTransactionalProducer, createGroupConsumer, createFetcher, createAdmin, forceClose, within,
  type ClientOptions, type IdempotentProducerOptions, type TransactionalProducerOptions, type GroupConsumerOptions,
  type IdempotentProducer, type BufferProducer,
} from './clients.ts';
export { checkWriterOptions, KafkaWriter, PIPELINE_DEPTH, LANES, type KafkaWriterOptions, type WriterMessage } from './writer.ts';
export { describeError, errorDetails, hasProtocolError, protocolErrorIds, isRequestError, walkErrors } from './errors.ts';
export { fetchCommitted, committedBatches, OffsetOutOfRangeError, type FetchedRecord, type PartitionFetch, type FetchLimits } from './committed-fetch.ts';
export { readTopic, type ReadTopicOptions, type TopicRecord } from './read-topic.ts';
export { followTopic, type FollowTopicOptions } from './follow-topic.ts';
export { createTopics, describeTopicConfigs, growTopic, setTopicConfigs, topicConfigs, type CreateTopicsOptions, type CreateTopicsResult } from './topics.ts';
export { TopicProbe, type TopicProbeOptions } from './probe.ts';
export { commitOffsetsInTransaction, type GroupMembership, type NextOffset } from './transactions.ts';
export { defaultPartition } from './partitioner.ts';
