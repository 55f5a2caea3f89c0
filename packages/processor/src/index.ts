export { Processor } from './processor.ts';
export { runProcessorCli, parseProcessorArgs, PROCESSOR_USAGE } from './cli.ts';
export { InvalidSettingError } from '@inlet/schema/settings';
export { resolveOptions, PROCESSOR_OPTIONS, type ProcessorOptions, type ResolvedOptions, type ProcessorLogger } from './options.ts';
export { DedupStore } from './dedup-store.ts';
export { dedupIdentity, digest, fallbackIdentity, type DedupIdentity } from './dedup-key.ts';
export { decideBatch, applyBatch, type Batch, type PartitionState, type DecideOptions } from './decide.ts';
export { renderPrometheus, type MetricsSnapshot } from './metrics.ts';
