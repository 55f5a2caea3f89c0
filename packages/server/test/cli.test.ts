// The `inlet` command line, run as users run it: the bin as a child process with a temp data dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { startInlet } from '@inlet/testkit';
import { postJson } from './http-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

interface Run { code: number; stdout: string; stderr: string }

function inlet(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    // A clean env for settings: only what the test gives, so the caller's PORT etc. do not leak in.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PORT|HOST|INLET_|KAFKA_|REDIS_URL|DATABASE_URL|LOG_LEVEL)/.test(k)));
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('inlet CLI', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'inlet-cli-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('--help on each command exits 0', async () => {
    const runs = await Promise.all([['--help'], ['serve', '--help'], ['tail', '--help'], ['sources', '--help'], ['sources', 'create', '--help'], ['topics', '--help']].map(async (args) => ({ args, run: await inlet(args) })));
    for (const { args, run } of runs) {
      assert.equal(run.code, 0, `inlet ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, /Usage: inlet/, args.join(' '));
    }
    const serveHelp = runs[1].run.stdout;
    for (const setting of ['PORT', 'INLET_DATA_DIR', 'KAFKA_BROKERS', 'MAX_BODY_BYTES', 'TRUSTED_PROXIES']) assert.match(serveHelp, new RegExp(setting));
  });

  test('serve with a wrong value exits non-zero naming the setting', async () => {
    const [flag, env, unknown] = await Promise.all([
      inlet(['serve', '--port', 'abc'], { INLET_DATA_DIR: join(dir, 'never') }),
      inlet(['serve'], { KAFKA_BROKERS: 'nohost', INLET_DATA_DIR: join(dir, 'never') }),
      inlet(['serve', '--no-such-flag', 'x'], { INLET_DATA_DIR: join(dir, 'never') }),
    ]);
    assert.notEqual(flag.code, 0);
    assert.match(flag.stderr, /PORT/);
    assert.notEqual(env.code, 0);
    assert.match(env.stderr, /KAFKA_BROKERS/);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /--no-such-flag/);
  });

  test('serve on a port already in use says so and exits, without a stack trace', async () => {
    const taken = net.createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const run = await inlet(['serve', '--port', String(port), '--host', '127.0.0.1'], { INLET_DATA_DIR: join(dir, 'busy') });
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${port} \\(already in use\\)`));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      taken.close();
    }
  });

  test('serve with a data directory that cannot be created names it, without a stack trace', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const run = await inlet(['serve', '--port', '0'], { INLET_DATA_DIR: join(file, 'data') });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ENOTDIR.*a-file/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  test('sources create, list, revoke', async () => {
    const data = join(dir, 'sources');
    const created = await inlet(['sources', 'create', '--name', 'web', '--data-dir', data]);
    assert.equal(created.code, 0, created.stderr);
    const [, id] = /created source (src_\S+) "web"/.exec(created.stdout) ?? [];
    const [, writeKey] = /write key: (wk_\S+)/.exec(created.stdout) ?? [];
    assert.ok(id && writeKey, created.stdout);

    const listed = await inlet(['sources', 'list', '--json', '--data-dir', data]);
    assert.equal(listed.code, 0, listed.stderr);
    const sources = JSON.parse(listed.stdout) as Array<{ id: string; name: string; writeKey: string; revokedAt: string | null }>;
    assert.deepEqual(sources.map((s) => [s.id, s.name, s.writeKey, s.revokedAt]), [[id, 'web', writeKey, null]]);
    assert.match((await inlet(['sources', 'list', '--data-dir', data])).stdout, new RegExp(`${id}\\s+web.*active`));

    const revoked = await inlet(['sources', 'revoke', id, '--data-dir', data]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match((await inlet(['sources', 'list', '--data-dir', data])).stdout, new RegExp(`${id}\\s+web.*revoked`));
    const again = await inlet(['sources', 'revoke', id, '--data-dir', data]);
    assert.notEqual(again.code, 0, 'revoking twice says there is no active source');

    const noName = await inlet(['sources', 'create', '--data-dir', data]);
    assert.notEqual(noName.code, 0);
    assert.match(noName.stderr, /--name/);
  });

  test('tail prints stored events as NDJSON, oldest first', async () => {
    const data = join(dir, 'tail');
    const server = await startInlet({ dataDir: data });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    try {
      for (const messageId of ids) assert.equal((await postJson(server.url, '/v1/track', { userId: 'u', event: 'tailed', messageId }, server.writeKey)).status, 200);
      const run = await inlet(['tail', '--data-dir', data]);
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trimEnd().split('\n');
      const records = lines.map((line) => JSON.parse(line) as { messageId: string; event: string; sourceId: string });
      assert.deepEqual(records.map((r) => r.messageId), ids);
      assert.ok(records.every((r) => r.event === 'tailed' && r.sourceId === server.server.defaultSource!.id));
    } finally {
      await server.close();
    }
    const empty = await inlet(['tail', '--data-dir', join(dir, 'nothing-here')]);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
  });
});
