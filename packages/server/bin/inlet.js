#!/usr/bin/env -S node --max-semi-space-size=64
// Inlet's command line. `#cli` is the compiled dist/cli.js (built on install and by `npm start`;
// `npm run build` rebuilds it); under `--conditions=inlet-source`, as in the tests, it is
// src/cli.ts, which Node runs by stripping the types.
//
// --max-semi-space-size: a request's events live until their group commit or Kafka acknowledgement
// lands; with V8's default young generation that is long enough to be promoted and collected the
// expensive way. 64 MB semi-spaces let them die young (W1: ~96k -> ~135k events/s, BENCHMARKS.md).
// `npm start` passes the same flag; set it yourself when you run this file with plain `node`.
let cli;
try {
  cli = await import('#cli');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || error.url !== new URL('../dist/cli.js', import.meta.url).href) throw error;
  console.error('inlet: the server is not built (dist/ is missing); run `npm run build` (or `npm install`) in the Inlet checkout');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
