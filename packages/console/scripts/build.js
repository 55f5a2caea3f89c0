// The console's static files: one minified ES module (Preact, htm, uPlot and the views) and one
// stylesheet, named by their content hash so the server can let browsers cache them for a year,
// and index.html naming them (no inline script or style: the server's Content-Security-Policy
// allows neither). The root scripts/build.js writes them to dist/; `bundles()` builds in memory.
import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @returns {Promise<Record<string, string>>} dist/ file name → text */
export async function bundles() {
  const result = await esbuild.build({
    entryPoints: [join(root, 'src/main.ts')],
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    target: 'es2022',
    legalComments: 'none',
    outdir: join(root, 'dist'),
    entryNames: 'console-[hash]',
    assetNames: 'console-[hash]',
    logLevel: 'warning',
  });
  const files = {};
  let script;
  let style;
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    files[name] = file.text;
    if (name.endsWith('.js')) script = name;
    if (name.endsWith('.css')) style = name;
  }
  if (!script || !style) throw new Error('@inlet/console: the build made no script or no stylesheet');
  files['index.html'] = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inlet console</title>
<link rel="stylesheet" href="/console/assets/${style}">
<script type="module" src="/console/assets/${script}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
  return files;
}

/** Bytes of the script and stylesheet, raw and gzipped (what a first visit downloads). */
export function sizes(files) {
  let raw = 0;
  let gzip = 0;
  for (const [name, text] of Object.entries(files)) {
    if (name === 'index.html') continue;
    raw += Buffer.byteLength(text);
    gzip += gzipSync(text, { level: 9 }).length;
  }
  return { raw, gzip };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await bundles();
  const { raw, gzip } = sizes(files);
  console.log(`console bundle: ${raw} bytes, ${gzip} bytes gzipped`);
}
