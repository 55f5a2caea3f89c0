// Size of the browser SDK a site loads, gzip -9, next to popular SDKs measured the same way from
// their npm packages (fetched at bench time with `npm pack` into a temporary directory).
//
// Which file is "the browser bundle" of each package (the one a site loads from a <script>):
// - @inlet/browser: dist/inlet.min.js, built here from the current source (esbuild, minified IIFE).
// - @segment/analytics-next: dist/umd/standalone.js, the entry the snippet loads (cdn analytics.min.js).
//   It loads more chunks on demand (destinations, schema filter...): those are not counted.
// - @rudderstack/analytics-js: dist/npm/modern/umd/index.js, the modern UMD build without bundled
//   plugins (plugins load from the CDN on demand: not counted). The npm package ships it unminified,
//   so the table also gives every file minified by esbuild (a fairer line for that one).
// - posthog-js: dist/array.js, what the PostHog snippet loads (array.full.js adds session replay etc.).
//
//   node --import tsx bench/browser-size.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { transform } from 'esbuild';
import { bundles } from '../packages/browser/scripts/build.js';

const COMPETITORS = [
  { name: '@segment/analytics-next', file: 'dist/umd/standalone.js' },
  { name: '@rudderstack/analytics-js', file: 'dist/npm/modern/umd/index.js' },
  { name: 'posthog-js', file: 'dist/array.js' },
];

export interface SizeRow {
  sdk: string;
  version: string;
  file: string;
  rawBytes: number;
  gzipBytes: number;
  minifiedGzipBytes: number;
}

const gzip9 = (code: string) => gzipSync(code, { level: 9 }).length;

async function measure(sdk: string, version: string, file: string, code: string): Promise<SizeRow> {
  const minified = (await transform(code, { minify: true, legalComments: 'none' })).code;
  return { sdk, version, file, rawBytes: Buffer.byteLength(code), gzipBytes: gzip9(code), minifiedGzipBytes: gzip9(minified) };
}

function pack(name: string, dir: string): { version: string; root: string } {
  const out = execFileSync('npm', ['pack', name, '--pack-destination', dir, '--json', '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [{ filename, version }] = JSON.parse(out) as { filename: string; version: string }[];
  const root = join(dir, filename.replace(/\.tgz$/, ''));
  execFileSync('mkdir', ['-p', root]);
  execFileSync('tar', ['-xzf', join(dir, filename), '-C', root]);
  return { version, root: join(root, 'package') };
}

const kb = (n: number) => (n / 1024).toFixed(1);

export function formatSizes(rows: SizeRow[]): string {
  const ours = rows[0].gzipBytes;
  return [
    '| SDK | version | file | raw KB | gzip -9 KB | minified by esbuild, gzip -9 KB | × @inlet/browser |',
    '|---|---|---|--:|--:|--:|--:|',
    ...rows.map((r) => `| ${r.sdk} | ${r.version} | ${r.file} | ${kb(r.rawBytes)} | ${kb(r.gzipBytes)} (${r.gzipBytes} B) | ${kb(r.minifiedGzipBytes)} | ${(r.gzipBytes / ours).toFixed(1)} |`),
  ].join('\n');
}

export async function run(): Promise<{ markdown: string; rows: SizeRow[] }> {
  const { iife } = await bundles();
  const version = JSON.parse(readFileSync(join(import.meta.dirname, '../packages/browser/package.json'), 'utf8')).version as string;
  const rows = [await measure('@inlet/browser', version, 'dist/inlet.min.js', iife)];
  const dir = mkdtempSync(join(tmpdir(), 'inlet-bench-sdks-'));
  try {
    for (const c of COMPETITORS) {
      try {
        const { version: v, root } = pack(c.name, dir);
        rows.push(await measure(c.name, v, c.file, readFileSync(join(root, c.file), 'utf8')));
      } catch (error) {
        console.error(`# ${c.name}: could not measure (${(error as Error).message.split('\n')[0]})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const markdown = `### Browser SDK size (gzip -9)\n\n${formatSizes(rows)}\n\nBudget for @inlet/browser: 4096 B gzipped. Competitors' lazily loaded chunks and remote plugins are not counted.\n`;
  return { markdown, rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log((await run()).markdown);
}
