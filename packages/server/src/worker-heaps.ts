// The server starts with --max-semi-space-size=64 for its main thread (bin/inlet.js), and V8 applies
// that flag to every isolate created later, over a worker's own resourceLimits: the SQLite writer's
// heap grew to 138 MB under overload (bench/LOG.md, 2026-12-04). Once the main isolate exists the
// flag has done its work, so whoever starts a worker clears it first (when it was given; clearing
// again is harmless). Workers then get the limits they ask for, or V8's defaults when they ask none.
import { setFlagsFromString } from 'node:v8';

export function letWorkersSizeTheirHeaps(): void {
  // V8 takes its flags with dashes or underscores.
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) => arg.replaceAll('_', '-').startsWith('--max-semi-space-size'));
  if (given) setFlagsFromString('--max-semi-space-size=0');
}
