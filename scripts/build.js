#!/usr/bin/env node
// Builds the JavaScript that installed packages and a production server run, so nothing runs
// TypeScript outside development. esbuild bundles each entry point of a package into dist/ (imports
// of other packages, @inlet/* included, stay imports) in well under a second; it is a production
// dependency of the root, so `npm ci --omit=dev` runs this as its postinstall, and `npm start`
// runs it first. `--types` also writes declarations with tsc (a dev dependency): the published
// packages' `prepack` does that, so a tarball carries .d.ts files.
//
// Development never needs dist/: each package's exports map has an "inlet-source" condition that
// points at src/, which tests (node --conditions=inlet-source) and tsc (customConditions) use.
//
//   node scripts/build.js [--types] [@inlet/name ...]      (no names: every package below)
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What each package builds. `entries` maps a dist/ file name (without extension) to its source;
 * `require: true` adds a CommonJS twin (.cjs, .d.cts) of each entry; `bundles` replaces the default
 * esbuild step with the package's own (returns dist/ file name → text); `types` emits declarations.
 */
export const PACKAGES = [
  // `settings` and `uuid` stand alone (no ajv): the browser SDK bundles them.
  { name: '@inlet/schema', dir: 'packages/schema', entries: { index: 'src/index.ts', settings: 'src/settings.ts', uuid: 'src/uuid.ts' }, require: true, types: true },
  // Two entry points: the Node SDK loads `contract` (no Kafka client) up front and the rest lazily.
  { name: '@inlet/kafka', dir: 'packages/kafka', entries: { index: 'src/index.ts', contract: 'src/contract.ts' }, require: true, types: true },
  { name: '@inlet/node', dir: 'packages/node', entries: { index: 'src/index.ts' }, require: true, types: true },
  { name: '@inlet/processor', dir: 'packages/processor', entries: { index: 'src/index.ts' }, types: true },
  { name: '@inlet/browser', dir: 'packages/browser', bundles: browserBundles, types: true },
  // The console's static files (content-hashed names, index.html naming them), served by the admin listener.
  { name: '@inlet/console', dir: 'packages/console', bundles: consoleBundles },
  // Not published; a production install runs it from dist/. Every bundle lands directly in dist/, so
  // a worker file that sits beside the code starting it in src/ sits beside it in dist/ too.
  {
    name: '@inlet/server',
    dir: 'packages/server',
    entries: {
      cli: 'src/cli.ts',
      index: 'src/index.ts',
      'writer.worker': 'src/db/writer.worker.js',
      'checkpointer.worker': 'src/db/checkpointer.worker.js',
      'kafka-producer.worker': 'src/sinks/kafka-producer.worker.js',
    },
  },
];

async function consoleBundles() {
  const { bundles } = await import('../packages/console/scripts/build.js');
  return bundles();
}

async function browserBundles() {
  const { bundles } = await import('../packages/browser/scripts/build.js');
  const { esm, iife } = await bundles();
  return { 'index.js': esm, 'inlet.min.js': iife };
}

/** @returns {Promise<Record<string, string>>} dist/ file name → text */
async function nodeBundles(pkg) {
  const dir = join(ROOT, pkg.dir);
  const formats = pkg.require ? ['esm', 'cjs'] : ['esm'];
  const builds = formats.map((format) =>
    esbuild.build({
      entryPoints: Object.entries(pkg.entries).map(([out, source]) => ({ in: join(dir, source), out })),
      outdir: join(dir, 'dist'),
      outExtension: { '.js': format === 'cjs' ? '.cjs' : '.js' },
      bundle: true,
      packages: 'external',
      platform: 'node',
      format,
      target: 'node22',
      write: false,
      logLevel: 'warning',
    }),
  );
  const files = {};
  for (const result of await Promise.all(builds)) {
    for (const file of result.outputFiles) files[relative(join(dir, 'dist'), file.path)] = file.text;
  }
  // A file started by URL (a worker thread) must be a bundle of its own beside the one starting it;
  // the tests run src/, so only this catches an entry missing from the list above.
  for (const [name, text] of Object.entries(files)) {
    for (const [, wanted] of text.matchAll(/new URL\(["']\.\/([^"']+)["'], import\.meta\.url\)/g)) {
      if (!(wanted in files)) throw new Error(`${pkg.name}: dist/${name} starts ./${wanted}, which is not built; add it to the entries in scripts/build.js`);
    }
  }
  return files;
}

async function buildJs(pkg) {
  const dist = join(ROOT, pkg.dir, 'dist');
  const files = await (pkg.bundles ? pkg.bundles() : nodeBundles(pkg));
  mkdirSync(dist, { recursive: true });
  // Each file is replaced whole (rename), so a server starting meanwhile never reads half a file.
  for (const [name, text] of Object.entries(files)) {
    const temp = join(dist, `.${name}.${process.pid}.tmp`);
    writeFileSync(temp, text);
    renameSync(temp, join(dist, name));
  }
  for (const name of readdirSync(dist)) {
    if (/\.(c?js|css)$/.test(name) && !(name in files)) rmSync(join(dist, name));
  }
}

/** Declaration files under dir (.d.ts unless told), relative paths. */
function declarationFiles(dir, prefix = '', pattern = /\.d\.ts$/) {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) return declarationFiles(dir, path, pattern);
    return pattern.test(entry.name) ? [path] : [];
  });
}

const RELATIVE_TS = /(['"])(\.\.?\/[^'"]*?)\.ts\1/g;

function buildTypes(pkg) {
  const dir = join(ROOT, pkg.dir);
  const dist = join(dir, 'dist');
  // The config lives under the root's node_modules so tsc finds @types/* the way the repo does.
  const cacheDir = join(ROOT, 'node_modules/.cache/inlet-build');
  mkdirSync(cacheDir, { recursive: true });
  const config = join(cacheDir, `tsconfig.${pkg.name.replace(/\W/g, '_')}.json`);
  const own = join(dir, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({
    extends: existsSync(own) ? own : join(ROOT, 'tsconfig.base.json'),
    compilerOptions: {
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      stripInternal: true,
      rootDir: join(dir, 'src'),
      outDir: dist,
      customConditions: ['inlet-source'],
    },
    include: [join(dir, 'src/**/*.ts')],
  }));
  for (const file of declarationFiles(dist, '', /\.d\.c?ts$/)) rmSync(join(dist, file));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', config], { stdio: 'inherit' });
  // tsc keeps the sources' "./x.ts" specifiers in declarations; installed, the files are ".d.ts"
  // next to ".js". A package with a CommonJS build gets ".d.cts" twins pointing at each other, so
  // `require` users get types that describe CommonJS.
  for (const file of declarationFiles(dist)) {
    const text = readFileSync(join(dist, file), 'utf8').replace(RELATIVE_TS, '$1$2.js$1');
    writeFileSync(join(dist, file), text);
    if (pkg.require) {
      const cjs = text.replace(/(['"])(\.\.?\/[^'"]*?)\.js\1/g, '$1$2.cjs$1');
      writeFileSync(join(dist, file.replace(/\.d\.ts$/, '.d.cts')), cjs);
    }
  }
}

export async function build({ names = [], types = false } = {}) {
  const unknown = names.filter((name) => !PACKAGES.some((p) => p.name === name));
  if (unknown.length) throw new Error(`unknown package ${unknown.join(', ')}; known: ${PACKAGES.map((p) => p.name).join(', ')}`);
  const chosen = names.length ? PACKAGES.filter((p) => names.includes(p.name)) : PACKAGES;
  await Promise.all(chosen.map(buildJs));
  if (types) for (const pkg of chosen.filter((p) => p.types)) buildTypes(pkg);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  try {
    await build({ types: args.includes('--types'), names: args.filter((a) => !a.startsWith('--')) });
  } catch (error) {
    console.error(`build failed: ${error.message}`);
    process.exit(1);
  }
}
