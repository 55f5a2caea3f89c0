#!/usr/bin/env node
// Builds dist/: index.js (ESM) + index.d.ts, and the minified IIFE inlet.min.js (global `Inlet`).
// `bundles()` builds in memory, so tests and benchmarks measure the current source.
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const common = {
  bundle: true,
  write: false,
  target: 'es2020',
  legalComments: 'none',
  define: { __VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
};

/** @returns {Promise<{ esm: string, iife: string }>} */
export async function bundles() {
  const [esm, iife] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(root, 'src/index.ts')], format: 'esm', outfile: 'index.js' }),
    esbuild.build({
      ...common,
      entryPoints: [join(root, 'src/global.ts')],
      format: 'iife',
      globalName: 'Inlet',
      minify: true,
      // Private members start with "_" and never leave the bundle: short names save bytes.
      mangleProps: /^_/,
      outfile: 'inlet.min.js',
    }),
  ]);
  return { esm: esm.outputFiles[0].text, iife: iife.outputFiles[0].text };
}

function declarations() {
  const dist = join(root, 'dist');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  // tsc keeps the source's ".ts" specifiers in declarations; consumers resolve ".js".
  for (const file of readdirSync(dist).filter((f) => f.endsWith('.d.ts'))) {
    const path = join(dist, file);
    writeFileSync(path, readFileSync(path, 'utf8').replace(/(from '\.\/[\w-]+)\.ts'/g, "$1.js'"));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { esm, iife } = await bundles();
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist/index.js'), esm);
  writeFileSync(join(root, 'dist/inlet.min.js'), iife);
  if (!process.argv.includes('--no-types')) declarations();
}
