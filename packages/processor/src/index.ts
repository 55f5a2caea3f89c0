export { Processor } from './processor.ts';
export { runProcessorCli, parseProcessorArgs, PROCESSOR_USAGE } from './cli.ts';
export { resolveOptions, ProcessorOptionsError, type ProcessorOptions, type ResolvedOptions, type ProcessorLogger } from './options.ts';
export { DedupStore } from './dedup-store.ts';
export { dedupIdentity, digest, fallbackIdentity, type DedupIdentity } from './dedup-key.ts';
export { fetchCommitted, committedBatches, type FetchedRecord, type PartitionFetch } from './committed-fetch.ts';
export { renderPrometheus, type MetricsSnapshot } from './metrics.ts';
