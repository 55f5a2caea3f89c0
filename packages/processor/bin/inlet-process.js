#!/usr/bin/env node
// Standalone entry for the processor (same as `inlet process`). Runs the package's compiled
// dist/ (or src/ under `--conditions=inlet-source`, as in the tests).
import { runProcessorCli } from '@inlet/processor';

await runProcessorCli(process.argv.slice(2));
