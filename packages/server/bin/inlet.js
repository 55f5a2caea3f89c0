#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=16384 node --max-semi-space-size=64
// Inlet's command line. `#cli` is the compiled dist/cli.js (built on install and by `npm start`;
// `npm run build` rebuilds it); under `--conditions=inlet-source`, as in the tests, it is
// src/cli.ts, which Node runs by stripping the types.
//
// --max-semi-space-size: a request's events live until their group commit or Kafka acknowledgement
// lands; with V8's default young generation that is long enough to be promoted and collected the
// expensive way. 64 MB semi-spaces let them die young (W1: ~96k -> ~135k events/s, BENCHMARKS.md).
// MALLOC_MMAP_THRESHOLD_=16384: glibc's malloc serves blocks of 16 KB and more (request bodies
// arrive in pieces of up to 64 KB) from mappings of their own, unmapped when freed. By default they
// come from its heap, which glibc does not give back while a live block sits above them: after
// 2,000 connections stalled with 480 KB bodies the process kept ~80 MB it no longer used (chaos
// stalled-bodies). Cost: none visible on W1, ~3% CPU per request on W2 (BENCHMARKS.md, 2026-12-03).
// Only glibc reads it, and only as the process starts: hence here, not in code.
// `npm start` passes the same flag and variable; set both yourself when you run this file with plain `node`.
let cli;
try {
  cli = await import('#cli');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || error.url !== new URL('../dist/cli.js', import.meta.url).href) throw error;
  console.error('inlet: the server is not built (dist/ is missing); run `npm run build` (or `npm install`) in the Inlet checkout');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
