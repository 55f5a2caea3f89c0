// The server from a production install, done the way an operator does it: a fresh clone,
// `npm ci --omit=dev`, `npx inlet serve`. Proves the install needs no dev dependency (the build on
// install is esbuild, a production dependency) and that the server then runs compiled JavaScript:
// tsx and TypeScript are not installed, and Node's own type stripping is switched off, so loading
// any .ts file would fail. The clone is of HEAD, plus the uncommitted changes to tracked files so
// a developer tests what they have. better-sqlite3 compiles in the clone (about a minute);
// packages come from npm's cache when it has them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { freePort } from '@inlet/testkit';

const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);

/**
 * A production environment: none of the test runner's options (its NODE_OPTIONS would point
 * packages at src/), none of the outer npm's package variables, no settings that pick other
 * backends; and no type stripping, so a .ts file anywhere on the path fails loudly.
 */
const ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_(package|lifecycle)_|INIT_CWD$|PORT$|HOST$|INLET_|KAFKA_|REDIS_URL$|DATABASE_URL$|LOG_LEVEL$)/.test(key))),
  NODE_OPTIONS: '--no-experimental-strip-types',
  NODE_ENV: 'production',
};

async function sh(command: string, args: string[], cwd: string, options: { input?: string; timeout?: number } = {}): Promise<string> {
  try {
    const child = run(command, args, { cwd, env: ENV, timeout: options.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
    if (options.input !== undefined) child.child.stdin!.end(options.input);
    return (await child).stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

describe('a production install (fresh clone, npm ci --omit=dev) runs the server from compiled JavaScript', () => {
  let work: string;
  let clone: string;
  let dataDir: string;
  let server: ChildProcess | undefined;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'inlet-production-'));
    assert.ok(relative(ROOT, work).startsWith('..'), 'the clone must be outside the repo');
    clone = join(work, 'inlet');
    dataDir = join(work, 'data');
    mkdirSync(dataDir);
    await sh('git', ['clone', '--quiet', ROOT, clone], work);
    const changes = await sh('git', ['diff', 'HEAD', '--binary'], ROOT);
    if (changes.trim()) await sh('git', ['apply', '--whitespace=nowarn', '-'], clone, { input: changes });
  });

  after(async () => {
    if (server?.pid && server.exitCode === null && server.signalCode === null) {
      process.kill(-server.pid, 'SIGKILL');
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('npm ci --omit=dev succeeds and builds the server, with no TypeScript tooling installed', async () => {
    await sh('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], clone, { timeout: 900_000 });
    for (const devOnly of ['tsx', 'typescript', 'eslint']) {
      assert.ok(!existsSync(join(clone, 'node_modules', devOnly)), `${devOnly} is a dev dependency and must not be installed`);
    }
    for (const built of ['packages/server/dist/cli.js', 'packages/server/dist/writer.worker.js', 'packages/server/dist/kafka-producer.worker.js', 'packages/browser/dist/inlet.min.js', 'packages/console/dist/index.html']) {
      assert.ok(existsSync(join(clone, built)), `${built} was built on install`);
    }
  });

  test('npx inlet serve takes an event with the write key its first start gives (in the file its log names: stdout is a pipe), npx inlet tail shows it stored, a restart prints no key', async () => {
    const port = await freePort();
    // Its own process group, so the server under npx is stopped with it.
    server = spawn('npx', ['inlet', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
      cwd: clone, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    server.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    server.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise((done) => server!.once('exit', done));

    // Started when it answers ping and its log names the file its first start's banner went to:
    // its stdout is a pipe, as under a service manager, so the secrets are not logged.
    const url = `http://127.0.0.1:${port}`;
    let banner = '';
    let writeKey: string | undefined;
    for (const deadline = Date.now() + 60_000; !writeKey; await new Promise((r) => setTimeout(r, 200))) {
      assert.ok(server.exitCode === null && server.signalCode === null, `inlet serve exited early:\n${stdout}\n${stderr}`);
      assert.ok(Date.now() < deadline, `inlet serve did not start within 60 s:\n${stdout}\n${stderr}`);
      const up = await fetch(`${url}/v1/ping`).then((r) => r.status === 204, () => false);
      const secretsFile = /"secretsFile":"([^"]+)"/.exec(stdout)?.[1];
      if (up && secretsFile && existsSync(secretsFile)) {
        banner = readFileSync(secretsFile, 'utf8');
        writeKey = /\bwk_[A-Za-z0-9_-]{8,}/.exec(banner)?.[0];
      }
    }
    assert.doesNotMatch(stdout + stderr, /\bwk_|inlet_at_/, 'the first start logs neither the write key nor the admin token');

    const messageId = randomUUID();
    const response = await fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'user-prod', event: 'Production Install Works', messageId, properties: { plan: 'pro' } }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { accepted: 1, rejected: 0, errors: [] });

    // The console the banner points at is served from the built files.
    const consoleUrl = /Console: (\S+)/.exec(banner)?.[1];
    assert.ok(consoleUrl, banner);
    const page = await fetch(consoleUrl);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const script = /\/console\/assets\/console-[A-Z0-9]+\.js/.exec(await page.text())?.[0];
    assert.equal((await fetch(new URL(script!, consoleUrl))).status, 200);

    const tail = await sh('npx', ['inlet', 'tail', '--data-dir', dataDir], clone);
    const stored = tail.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.messageId === messageId);
    assert.equal(stored.length, 1, `tail printed:\n${tail}`);
    assert.equal(stored[0].event, 'Production Install Works');
    assert.deepEqual(stored[0].properties, { plan: 'pro' });

    // SIGTERM to the group: npx dies of it, the server shuts down gracefully and stops listening.
    process.kill(-server.pid!, 'SIGTERM');
    await exited;
    for (const deadline = Date.now() + 15_000; await fetch(`${url}/v1/ping`).then(() => true, () => false); await new Promise((r) => setTimeout(r, 100))) {
      assert.ok(Date.now() < deadline, 'inlet serve still answers 15 s after SIGTERM');
    }
    assert.doesNotMatch(stderr, /ERR_UNKNOWN_FILE_EXTENSION|Error/);

    // A later start shows no key (the store keeps only its hash) and says how to get one; the key
    // the first start printed still works.
    server = spawn('npx', ['inlet', 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], {
      cwd: clone, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let again = '';
    server.stdout!.on('data', (chunk: Buffer) => { again += chunk.toString(); });
    server.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exitedAgain = new Promise((done) => server!.once('exit', done));
    for (const deadline = Date.now() + 60_000; !/rotate-key/.test(again) || !(await fetch(`${url}/v1/ping`).then((r) => r.status === 204, () => false)); await new Promise((r) => setTimeout(r, 200))) {
      assert.ok(server.exitCode === null && server.signalCode === null, `inlet serve exited early:\n${again}\n${stderr}`);
      assert.ok(Date.now() < deadline, `inlet serve did not restart within 60 s:\n${again}\n${stderr}`);
    }
    assert.doesNotMatch(again, /\bwk_/, 'a later start prints no write key');
    assert.match(again, /`inlet sources create --name NAME` makes a source and prints its key; `inlet sources rotate-key default` gives a source a new one/);
    const later = await fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'user-prod', event: 'After Restart', messageId: randomUUID() }),
    });
    assert.equal(later.status, 200, await later.clone().text());
    process.kill(-server.pid!, 'SIGTERM');
    await exitedAgain;
  });
});
