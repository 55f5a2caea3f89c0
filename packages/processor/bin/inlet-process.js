#!/usr/bin/env node
// Standalone entry for the processor (same as `inlet process`). TypeScript runs through tsx.
import { register } from 'tsx/esm/api';

register();
const { runProcessorCli } = await import('../src/index.ts');
await runProcessorCli(process.argv.slice(2));
