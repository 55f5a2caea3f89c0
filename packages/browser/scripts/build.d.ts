/** Builds the ESM module and the minified IIFE in memory, from the current source. */
export function bundles(): Promise<{ esm: string; iife: string }>;
