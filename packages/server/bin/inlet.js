#!/usr/bin/env -S node --max-semi-space-size=64
// Inlet's command line. TypeScript runs through tsx, so there is no build step.
//
// --max-semi-space-size: a request's events live until their group commit or Kafka acknowledgement
// lands; with V8's default young generation that is long enough to be promoted and collected the
// expensive way. 64 MB semi-spaces let them die young (W1: ~96k -> ~135k events/s, BENCHMARKS.md).
// `npm start` passes the same flag; set it yourself when you run this file with plain `node`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
