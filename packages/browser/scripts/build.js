// The browser SDK's two bundles: index.js (ESM, for bundlers) and the minified IIFE inlet.min.js
// (global `Inlet`) that the server serves. The root scripts/build.js writes them to dist/ (with
// declarations when packing); `bundles()` builds in memory, so tests and benchmarks measure the
// current source.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
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
  // @inlet/schema/settings (the settings kit) and @inlet/schema/uuid are bundled from their source.
  conditions: ['inlet-source'],
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
      minify: true,
      // Private members start with "_" and never leave the bundle: short names save bytes.
      mangleProps: /^_/,
      outfile: 'inlet.min.js',
    }),
  ]);
  return { esm: esm.outputFiles[0].text, iife: iife.outputFiles[0].text };
}
