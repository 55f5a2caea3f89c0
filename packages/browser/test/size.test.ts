// The size budget: the IIFE a site loads is at most 4 KB with gzip -9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { bundles } from '../scripts/build.js';

const BUDGET = 4096;
const gzipped = (code: string | Buffer) => gzipSync(code, { level: 9 }).length;

test('the minified IIFE built from the current source is at most 4 KB gzipped', async () => {
  const { iife } = await bundles();
  const size = gzipped(iife);
  console.log(`# inlet.min.js: ${Buffer.byteLength(iife)} bytes, ${size} bytes gzip -9 (budget ${BUDGET})`);
  assert.ok(size <= BUDGET, `inlet.min.js is ${size} bytes gzipped, over the ${BUDGET} byte budget`);
});

test('the built dist/inlet.min.js, when present, is within budget too', { skip: !existsSync(join(import.meta.dirname, '../dist/inlet.min.js')) && 'not built' }, () => {
  const size = gzipped(readFileSync(join(import.meta.dirname, '../dist/inlet.min.js')));
  assert.ok(size <= BUDGET, `dist/inlet.min.js is ${size} bytes gzipped`);
});

test('the IIFE exposes the Inlet global and the ESM build exports Analytics', async () => {
  const { iife, esm } = await bundles();
  const page: Record<string, unknown> = {};
  page.window = page;
  runInNewContext(iife, page);
  assert.equal(typeof (page.Inlet as { Analytics?: unknown } | undefined)?.Analytics, 'function', 'loading the IIFE sets window.Inlet.Analytics');
  assert.match(esm, /export\s*{[^}]*\bAnalytics\b/);
  assert.doesNotMatch(iife, /\bimport\b|\brequire\(/, 'the IIFE must be self-contained');
});

test('the README shows the loader snippet that the Chromium tests run', () => {
  const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
  const snippet = readFileSync(join(import.meta.dirname, 'fixtures/snippet.js'), 'utf8').trim();
  assert.ok(readme.includes(snippet), 'README.md and test/fixtures/snippet.js differ');
});
