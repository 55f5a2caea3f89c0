#!/usr/bin/env node
// Runs every *.test.ts in the repository (or under the paths given) with node's own runner, then
// checks that each test file the repository holds actually reported results. The check lists
// files a different way (git, not the directory walk), so a test file the walk misses fails the
// run instead of silently never running — as packages/server/src/sinks/embedded-sink.test.ts
// once did.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(import.meta.dirname, '..');
const SKIP_DIRS = new Set(['node_modules', 'dist', 'fixtures', '.git', '.inlet']);

function collect(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

/** Test files git knows of (tracked, or new and not ignored). */
function testFilesInRepository() {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.test.ts'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) return undefined; // not a git checkout: nothing to compare with
  return listed.stdout.split('\0').filter((f) => f && !f.split('/').some((part) => SKIP_DIRS.has(part)));
}

const args = process.argv.slice(2);
const whole = args.length === 0;
const files = (whole ? collect(root, []) : args.flatMap((a) => (a.endsWith('.ts') ? [relative(root, resolve(a))] : collect(resolve(a), [])))).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

// Tests run the TypeScript sources, not dist/: the "inlet-source" export condition points every
// @inlet/* package (and bin/inlet.js's #cli) at src/. NODE_OPTIONS carries it to the processes and
// worker threads the tests start, which run the sources by Node's own type stripping.
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=inlet-source`.trim() };

const reportDir = mkdtempSync(join(tmpdir(), 'inlet-test-report-'));
const seenFile = join(reportDir, 'files.txt');
const result = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-timeout=600000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${join(import.meta.dirname, 'test-files-reporter.js')}`, `--test-reporter-destination=${seenFile}`,
  ...files,
], { stdio: 'inherit', cwd: root, env });

let status = result.status ?? 1;
if (whole) {
  const seen = new Set(readFileSync(seenFile, 'utf8').split('\n').filter(Boolean).map((f) => relative(root, resolve(root, f))));
  const expected = testFilesInRepository() ?? files;
  const notRun = expected.filter((f) => !seen.has(f));
  if (notRun.length > 0) {
    console.error(`\n✖ ${notRun.length} test file(s) in the repository reported no test results:\n${notRun.map((f) => `  ${f}`).join('\n')}`);
    status = 1;
  } else {
    console.log(`\n✔ every test file in the repository ran (${expected.length} files)`);
  }
}
rmSync(reportDir, { recursive: true, force: true });
process.exit(status);
