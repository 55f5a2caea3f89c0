// The type declarations @inlet/node ships, as a TypeScript project outside the repo sees them.
// express and fastify are optional peers ("install them only for the middleware"), so a project
// with neither must type-check against the declarations with skipLibCheck off; one with them
// must still get typed middleware. The declarations are emitted the way the package build does
// (scripts/build.js --types), into a temporary package; @inlet/schema and @inlet/kafka are the
// repo's own, by their source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../../..');
const PACKAGE = resolve(import.meta.dirname, '..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const run = promisify(execFile);

/** Runs tsc; its diagnostics come back as text (tsc exits non-zero when there are any). */
async function tsc(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [TSC, ...args], { cwd, env: { ...process.env, NODE_OPTIONS: '' }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    if (stdout === undefined) throw error;
    return `${stdout}${stderr ?? ''}`;
  }
}

/**
 * Diagnostics about the shipped declarations or the consumer's code. @inlet/schema and
 * @inlet/kafka are checked from their sources here, which other work may be changing; their own
 * tests and the repo's typecheck answer for them.
 */
function ours(output: string, paths: string[]): string[] {
  return output.split('\n').filter((line) => /error TS\d+/.test(line) && paths.some((path) => line.startsWith(path)));
}

function declarationFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) return declarationFiles(dir, path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Where the consumer project's own diagnostics point: the installed declarations and its code. */
const CONSUMER = ['node_modules/@inlet/node/', 'src/'];

const WITHOUT_PEERS = `
import { ServerAnalytics, inletExpress, inletFastify, inletCollect, type InletExpressOptions } from '@inlet/node';

const analytics = new ServerAnalytics({ writeKey: 'wk', endpoint: 'http://127.0.0.1:8080' });
analytics.track('user-1', 'order_paid', { amount: 1 });
// The middleware is typed without its framework installed: its callbacks see a request.
const options: InletExpressOptions = { userId: (req) => req.get('x-user') as string | undefined, path: (req) => req.originalUrl };
export const middleware = inletExpress(analytics, options);
// @ts-expect-error not a member of a request (the types have not collapsed to any)
inletExpress(analytics, { userId: (req) => req.noSuchMember });
export const plugin = inletFastify;
export const collect = inletCollect({ target: 'http://inlet.internal:8080', consent: (req) => req.headers.cookie !== undefined });
`;

const WITH_PEERS = `
import express from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import { ServerAnalytics, inletExpress, inletFastify, inletCollect } from '@inlet/node';

declare global {
  namespace Express {
    interface Request { user?: { id: string } }
  }
}
declare module 'fastify' {
  interface FastifyRequest { account?: { id: string } }
}

const analytics = new ServerAnalytics({ writeKey: 'wk', endpoint: 'http://127.0.0.1:8080' });
const app = express();
// Express's own augmentation of its Request reaches the callback without an annotation…
app.use(inletExpress(analytics, { userId: (req) => req.user?.id }));
// …and the framework's own type may annotate it.
app.use(inletExpress(analytics, { userId: (req: express.Request) => req.user?.id ?? req.get('x-user'), path: (req: express.Request) => req.baseUrl }));
app.use(inletCollect({ target: 'http://inlet.internal:8080', clientIp: (req: express.Request) => req.ip }));

const fastify = Fastify();
await fastify.register(inletFastify, { analytics, userId: (request: FastifyRequest) => request.account?.id });
await fastify.register(inletFastify, { analytics, userId: (request) => request.headers['x-user'] as string | undefined });
await fastify.register(inletCollect.fastify, { target: 'http://inlet.internal:8080', consent: (request: FastifyRequest) => request.account !== undefined });
`;

describe('the shipped declarations', () => {
  let work: string;
  let dist: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'inlet-node-types-'));
    assert.ok(relative(ROOT, work).startsWith('..'), 'the project must be outside the repo, where express and fastify are installed');
    const installed = join(work, 'node_modules/@inlet/node');
    dist = join(installed, 'dist');
    // Emitted as scripts/build.js does; the config sits in the repo so tsc finds @types/node.
    const cacheDir = join(ROOT, 'node_modules/.cache/inlet-node-declarations-test');
    mkdirSync(cacheDir, { recursive: true });
    const config = join(cacheDir, `tsconfig.${process.pid}.json`);
    writeFileSync(config, JSON.stringify({
      extends: join(ROOT, 'tsconfig.base.json'),
      compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, stripInternal: true, rootDir: join(PACKAGE, 'src'), outDir: dist },
      include: [join(PACKAGE, 'src/**/*.ts')],
    }));
    try {
      const emitted = await tsc(['-p', config], ROOT);
      assert.deepEqual(ours(emitted, [`${relative(ROOT, PACKAGE)}/`]), [], emitted);
    } finally {
      rmSync(config, { force: true });
    }
    for (const file of declarationFiles(dist)) {
      const text = readFileSync(join(dist, file), 'utf8').replace(/(['"])(\.\.?\/[^'"]*?)\.ts\1/g, '$1$2.js$1');
      writeFileSync(join(dist, file), text);
    }
    // The manifest as published, minus the condition that points the repo at src/.
    const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, unknown>> };
    delete manifest.exports['.']['inlet-source'];
    writeFileSync(join(installed, 'package.json'), JSON.stringify(manifest));
    const modules = join(work, 'node_modules');
    mkdirSync(join(modules, '@types'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/@types/node'), join(modules, '@types/node'));
    symlinkSync(join(ROOT, 'packages/schema'), join(modules, '@inlet/schema'));
    symlinkSync(join(ROOT, 'packages/kafka'), join(modules, '@inlet/kafka'));
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], noEmit: true,
        // the point: the shipped .d.ts files are checked, so an import they cannot resolve is an error
        skipLibCheck: false,
        // @inlet/schema and @inlet/kafka by their source (the repo does not build their declarations)
        customConditions: ['inlet-source'], allowImportingTsExtensions: true,
      },
      include: ['src'],
    }));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('name neither express nor fastify', () => {
    const files = declarationFiles(dist);
    assert.ok(files.includes('express.d.ts') && files.includes('collect/fastify.d.ts'), files.join(', '));
    for (const file of files) {
      assert.doesNotMatch(readFileSync(join(dist, file), 'utf8'), /(from|import\()\s*['"](express|fastify)['"]/, file);
    }
  });

  test('type-check in a project without express and fastify (skipLibCheck off)', async () => {
    writeFileSync(join(work, 'src/consumer.ts'), WITHOUT_PEERS);
    const output = await tsc(['-p', 'tsconfig.json'], work);
    // Before: TS2307 Cannot find module 'express' / 'fastify' in dist/{express,fastify,collect/*}.d.ts
    assert.deepEqual(ours(output, CONSUMER), [], output);
    rmSync(join(work, 'src/consumer.ts'));
  });

  test('keep the middleware typed for a project with express and fastify', async () => {
    const modules = join(work, 'node_modules');
    // Linked: their own dependencies resolve from where they really are, the repo's node_modules.
    for (const name of ['express', 'fastify', '@types/express']) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    writeFileSync(join(work, 'src/consumer.ts'), WITH_PEERS);
    const output = await tsc(['-p', 'tsconfig.json'], work);
    assert.deepEqual(ours(output, CONSUMER), [], output);
  });
});
