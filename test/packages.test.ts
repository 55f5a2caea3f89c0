// The published packages as a user gets them: each one is packed (npm pack, whose prepack builds
// dist/ and the declarations), the tarballs are installed with production dependencies only into a
// new project outside the repo, and used there the ways their READMEs say: @inlet/node from
// `import` and from `require`, delivering to a real Inlet; @inlet/browser through a bundler; the
// types of all of them through tsc. Nothing from the repo's node_modules is visible to that project.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import { randomUUID } from 'node:crypto';
import * as esbuild from 'esbuild';
import { startInlet, type TestInlet } from '@inlet/testkit';

const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  repository?: unknown;
  files?: string[];
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** Every package the repo publishes: the ones not marked private. */
const PUBLISHED = readdirSync(join(ROOT, 'packages'))
  .map((dir) => ({ dir: join(ROOT, 'packages', dir), manifest: readJson<Manifest>(join(ROOT, 'packages', dir, 'package.json')) }))
  .filter((p) => !p.manifest.private);

/**
 * The environment of the commands run here. The test runner's NODE_OPTIONS carries
 * --conditions=inlet-source, which would point the installed packages at a src/ they do not ship;
 * the outer npm's package and lifecycle variables describe the repo, not the new project.
 */
const ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries({ ...process.env, NODE_OPTIONS: '' }).filter(([key]) => !/^npm_(package|lifecycle)_|^INIT_CWD$/.test(key)),
);

async function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env: { ...ENV, ...env }, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

/** Every file under dir, relative paths. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesUnder(dir, path);
    return [path];
  });
}

/** The file paths an exports map points at, whatever the conditions. */
function exportTargets(value: unknown, conditions: string[] = []): { conditions: string[]; target: string }[] {
  if (typeof value === 'string') return [{ conditions, target: value }];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => exportTargets(inner, [...conditions, key]));
  }
  return [];
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const SEND_ESM = `
import { ServerAnalytics } from '@inlet/node';
import { validateEvent } from '@inlet/schema';
import { newMessageId } from '@inlet/schema/uuid';
import { Processor } from '@inlet/processor';

const analytics = new ServerAnalytics({ writeKey: process.env.INLET_WRITE_KEY, endpoint: process.env.INLET_URL });
analytics.on('error', (error) => { console.error(error); process.exitCode = 1; });
analytics.on('drop', (drop) => { console.error('dropped', drop); process.exitCode = 1; });
analytics.track('user-import', 'Package Installed', { via: 'import', run: process.env.RUN });
await analytics.shutdown();
console.log(JSON.stringify({
  node: import.meta.resolve('@inlet/node'),
  schemaValidates: validateEvent({ type: 'track', event: 'x', userId: 'u' }).ok,
  messageId: newMessageId(),
  processor: typeof Processor,
}));
`;

const SEND_CJS = `
const { ServerAnalytics } = require('@inlet/node');
const { validateEvent } = require('@inlet/schema');
const { newMessageId } = require('@inlet/schema/uuid');

const analytics = new ServerAnalytics({ writeKey: process.env.INLET_WRITE_KEY, endpoint: process.env.INLET_URL });
analytics.on('error', (error) => { console.error(error); process.exitCode = 1; });
analytics.on('drop', (drop) => { console.error('dropped', drop); process.exitCode = 1; });
analytics.track('user-require', 'Package Installed', { via: 'require', run: process.env.RUN });
analytics.shutdown().then(() => {
  console.log(JSON.stringify({
    node: require.resolve('@inlet/node'),
    schema: require.resolve('@inlet/schema'),
    loaded: Object.keys(require.cache).filter((file) => file.includes('@inlet')),
    schemaValidates: validateEvent({ type: 'track', event: 'x', userId: 'u' }).ok,
    messageId: newMessageId(),
  }));
});
`;

const BROWSER_APP = `
import { Analytics, VERSION } from '@inlet/browser';

export const version = VERSION;
export function start(writeKey) {
  return new Analytics({ writeKey, endpoint: 'https://inlet.example.com' });
}
export { Analytics };
`;

const CONSUMER_TS = `
import { ServerAnalytics, type ServerAnalyticsOptions } from '@inlet/node';
import { Analytics, type AnalyticsOptions, type BrowserEvent } from '@inlet/browser';
import { validateEvent, type InletEvent } from '@inlet/schema';
import { newMessageId, uuid } from '@inlet/schema/uuid';
import { Processor } from '@inlet/processor';

const options: ServerAnalyticsOptions = { writeKey: 'wk_example', endpoint: 'http://127.0.0.1:8080' };
const server = new ServerAnalytics(options);
server.track('user-1', 'Order Completed', { total: 42, currency: 'EUR' });
// @ts-expect-error a track needs an event name
server.track('user-1');
const closed: Promise<void> = server.shutdown();

const browserOptions: AnalyticsOptions = { writeKey: 'wk_example', endpoint: 'https://inlet.example.com' };
const browser = new Analytics(browserOptions);
browser.track('Viewed Pricing', { plan: 'pro' });
// @ts-expect-error the browser SDK needs a write key
new Analytics({ endpoint: 'https://inlet.example.com' });
const flushed: Promise<void> = browser.flush();
const dropNothing = (event: BrowserEvent): BrowserEvent | null => event;

const event: InletEvent = { type: 'track', event: 'Viewed Pricing', userId: 'user-1' };
const valid: boolean = validateEvent(event).ok;
const ids: string[] = [newMessageId(), newMessageId(Date.now()), uuid()];
// @ts-expect-error the time is a number of milliseconds
newMessageId('now');
// @ts-expect-error Processor options are checked
new Processor({ brokers: 42 });

export { closed, flushed, dropNothing, valid, ids };
`;

const CONSUMER_CTS = `
import { ServerAnalytics } from '@inlet/node';
import type { InletEvent } from '@inlet/schema';

const server = new ServerAnalytics({ writeKey: 'wk_example', endpoint: 'http://127.0.0.1:8080' });
server.identify('user-1', { plan: 'pro' });
// @ts-expect-error a track needs an event name
server.track('user-1');
const event: InletEvent = { type: 'identify', userId: 'user-1' };
export = { server, event };
`;

describe('the published packages, packed and installed into a new project', () => {
  let work: string;
  let app: string;
  let inlet: TestInlet;
  const tarballs: string[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'inlet-packages-'));
    assert.ok(relative(ROOT, work).startsWith('..'), 'the new project must be outside the repo');
    const packed = join(work, 'tarballs');
    mkdirSync(packed);
    for (const { dir } of PUBLISHED) {
      const out = await sh('npm', ['pack', '--json', '--pack-destination', packed], dir);
      const [{ filename }] = JSON.parse(out.slice(out.indexOf('['))) as { filename: string }[];
      tarballs.push(join(packed, filename));
    }
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    // @types/node is what a TypeScript user of a Node SDK has; the same version the repo uses.
    const typesNode = readJson<Manifest>(join(ROOT, 'node_modules/@types/node/package.json')).version;
    await sh('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs, `@types/node@${typesNode}`], app);
    inlet = await startInlet();
  });

  after(async () => {
    await inlet?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('npm publish --dry-run accepts every package', async () => {
    assert.ok(PUBLISHED.length >= 4, `published: ${PUBLISHED.map((p) => p.manifest.name).join(', ')}`);
    for (const { dir } of PUBLISHED) {
      // The tarball was built just above by npm pack; publish packs the same files.
      await sh('npm', ['publish', '--dry-run', '--ignore-scripts'], dir);
    }
  });

  test('each installed package is built JavaScript with types, a license and a repository; no TypeScript source', async () => {
    for (const { manifest } of PUBLISHED) {
      const installed = join(app, 'node_modules', manifest.name);
      const meta = readJson<Manifest>(join(installed, 'package.json'));
      assert.equal(meta.license, 'MIT', manifest.name);
      assert.ok(meta.repository, `${manifest.name} has a repository`);
      const files = filesUnder(installed);
      const source = files.filter((f) => /\.(c|m)?tsx?$/.test(f) && !/\.d\.(c|m)?ts$/.test(f));
      assert.deepEqual(source, [], `${manifest.name} ships no TypeScript source`);
      assert.ok(files.includes('LICENSE') && files.includes('README.md'), `${manifest.name}: ${files.join(', ')}`);
      const targets = exportTargets(meta.exports).filter((t) => !t.conditions.includes('inlet-source'));
      assert.ok(targets.some((t) => t.target.endsWith('.d.ts')), `${manifest.name} exports types`);
      for (const { conditions, target } of targets) {
        assert.ok(existsSync(join(installed, target)), `${manifest.name} exports ${target} (${conditions.join(' > ')}), which is in the tarball`);
        assert.doesNotMatch(target, /^\.\/src\//, `${manifest.name}: no entry in src/`);
      }
      // Dependencies on each other resolve from the tarballs: one copy, no registry lookup.
      assert.ok(!existsSync(join(installed, 'node_modules/@inlet')), `${manifest.name} has no nested @inlet copy`);
    }
    await sh('npm', ['ls', '--all', '--omit=dev'], app);
  });

  test('@inlet/node, imported as an ES module, delivers an event to a listening Inlet', async () => {
    const runId = randomUUID();
    writeFileSync(join(app, 'send.mjs'), SEND_ESM);
    const out = JSON.parse(await sh('node', ['send.mjs'], app, { INLET_URL: inlet.url, INLET_WRITE_KEY: inlet.writeKey, RUN: runId })) as { node: string; schemaValidates: boolean; messageId: string; processor: string };
    assert.match(out.node, /node_modules\/@inlet\/node\/dist\/index\.js$/);
    assert.equal(out.schemaValidates, true);
    assert.match(out.messageId, UUID_V7, '@inlet/schema/uuid imports');
    assert.equal(out.processor, 'function');
    const stored = (await inlet.events()).filter((e) => e.properties?.run === runId);
    assert.equal(stored.length, 1);
    assert.equal(stored[0].event, 'Package Installed');
    assert.equal(stored[0].userId, 'user-import');
    assert.deepEqual(stored[0].context?.library, { name: '@inlet/node', version: readJson<Manifest>(join(app, 'node_modules/@inlet/node/package.json')).version });
  });

  test('@inlet/node, required from CommonJS, delivers an event to a listening Inlet', async () => {
    const runId = randomUUID();
    writeFileSync(join(app, 'send.cjs'), SEND_CJS);
    const out = JSON.parse(await sh('node', ['send.cjs'], app, { INLET_URL: inlet.url, INLET_WRITE_KEY: inlet.writeKey, RUN: runId })) as { node: string; schema: string; loaded: string[]; schemaValidates: boolean; messageId: string };
    // The CommonJS build itself, not an ES module loaded through require(esm).
    assert.match(out.node, /node_modules\/@inlet\/node\/dist\/index\.cjs$/);
    assert.match(out.schema, /node_modules\/@inlet\/schema\/dist\/index\.cjs$/);
    assert.ok(out.loaded.includes(out.node) && out.loaded.includes(out.schema), out.loaded.join(', '));
    for (const file of out.loaded) assert.match(file, /\/dist\/[^/]+\.cjs$/, 'every @inlet module loaded by require is a CommonJS build');
    assert.equal(out.schemaValidates, true);
    assert.match(out.messageId, UUID_V7, '@inlet/schema/uuid requires');
    const stored = (await inlet.events()).filter((e) => e.properties?.run === runId);
    assert.equal(stored.length, 1);
    assert.equal(stored[0].userId, 'user-require');
    assert.equal(stored[0].properties?.via, 'require');
  });

  test('@inlet/browser bundles with esbuild into a page script, and ships the IIFE the server serves', async () => {
    writeFileSync(join(app, 'browser-app.js'), BROWSER_APP);
    const result = await esbuild.build({
      absWorkingDir: app,
      entryPoints: ['browser-app.js'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
    });
    assert.deepEqual(result.errors, []);
    const code = result.outputFiles[0].text;
    assert.doesNotMatch(code, /from\s*["']@inlet\/browser["']/, 'the SDK is inside the bundle');
    // The bundle runs: the SDK's class and the version stamped in by its build.
    const bundled = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`) as { version: string; Analytics: unknown; start: unknown };
    assert.equal(bundled.version, readJson<Manifest>(join(app, 'node_modules/@inlet/browser/package.json')).version);
    assert.equal(typeof bundled.Analytics, 'function');

    // The IIFE in the tarball is the file an Inlet server serves at /sdk/inlet.min.js.
    const iife = readFileSync(join(app, 'node_modules/@inlet/browser/dist/inlet.min.js'), 'utf8');
    const page: Record<string, unknown> = {};
    page.window = page;
    runInNewContext(iife, page);
    assert.equal(typeof (page.Inlet as { Analytics?: unknown } | undefined)?.Analytics, 'function', 'loading it sets window.Inlet.Analytics');
    const served = await fetch(`${inlet.url}/sdk/inlet.min.js`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), iife);
  });

  test('a TypeScript project type-checks against the installed declarations, from import and from require', async () => {
    mkdirSync(join(app, 'src'), { recursive: true });
    writeFileSync(join(app, 'src/consumer.ts'), CONSUMER_TS);
    writeFileSync(join(app, 'src/consumer-cjs.cts'), CONSUMER_CTS);
    // What `tsc --init` gives a Node project (skipLibCheck; @inlet/node's declarations also check
    // without it and without the optional peers: packages/node/test/declarations.test.ts); the lines
    // marked @ts-expect-error fail if any of our types collapsed to `any`.
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], noEmit: true, skipLibCheck: true },
      include: ['src'],
    }));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    await sh(process.execPath, [tsc, '-p', 'tsconfig.json'], app);
    const trace = await sh(process.execPath, [tsc, '-p', 'tsconfig.json', '--traceResolution'], app);
    assert.match(trace, /'@inlet\/node' was successfully resolved to '[^']*\/node_modules\/@inlet\/node\/dist\/index\.d\.ts'/);
    assert.match(trace, /'@inlet\/node' was successfully resolved to '[^']*\/node_modules\/@inlet\/node\/dist\/index\.d\.cts'/);
  });
});
