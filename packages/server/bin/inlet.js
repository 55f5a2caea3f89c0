#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=64
// Inlet's command line. `#cli` is the compiled dist/cli.js (built on install and by `npm start`;
// `npm run build` rebuilds it); under `--conditions=inlet-source`, as in the tests, it is
// src/cli.ts, which Node runs by stripping the types.
//
// --max-semi-space-size: a request's events live until their group commit or Kafka acknowledgement
// lands; with V8's default young generation that is long enough to be promoted and collected the
// expensive way. 64 MB semi-spaces let them die young (W1: ~96k -> ~135k events/s; bench/LOG.md,
// 2026-11-26: HTTP ingestion, "What the optimization work changed").
// MALLOC_MMAP_THRESHOLD_=131072: glibc's malloc serves blocks of 128 KB and more from mappings of
// their own, unmapped when freed, and the rest from its heap. Setting it also stops glibc from
// raising the threshold by itself (it would, after the first large block freed, and then keep
// large bodies in its heap too, where a live block above them holds the memory). A stalled body
// with a declared length is one block of that length (src/body.ts): above 128 KB it goes back to
// the system when freed (chaos stalled-bodies: 37 MB above the start 10 s after 2,000 stalled
// clients left, against 114 MB when each piece was a block of its own). Socket reads (64 KB) and the pieces of bodies stay in the
// heap, which is what makes them cheap: at 16 KB every read was an mmap and a munmap, and a
// refusal (503) cost twice the CPU (bench/LOG.md, 2026-12-04 night).
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
