// The `inlet` command line, run as users run it: the bin as a child process with a temp data dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import Database from 'better-sqlite3';
import { topicConfigs } from '@inlet/kafka';
import { needKafka, needPostgres, needRoot, startInlet } from '@inlet/testkit';
import { hashWriteKey } from '../src/sources/keys.ts';
import { SqliteSourceStore } from '../src/sources/sqlite-store.ts';
import { postJson } from './http-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

interface Run { code: number; stdout: string; stderr: string }

/** Runs `inlet args`; with `until`, a long-running command is stopped (SIGTERM) once its stdout matches. */
function inlet(args: string[], env: NodeJS.ProcessEnv = {}, until?: RegExp): Promise<Run> {
  return new Promise((done) => {
    // A clean env for settings: only what the test gives, so the caller's PORT etc. do not leak in.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PORT|HOST|INLET_|KAFKA_|REDIS_URL|DATABASE_URL|LOG_LEVEL|ADMIN_|METRICS_|FAILED_)/.test(k)));
    let seen = '';
    // The admin listener on a free port unless a test says otherwise: 8081 may be taken on a shared machine.
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...base, ADMIN_PORT: '0', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (until) {
      child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (until.test(seen)) child.kill('SIGTERM');
      });
    }
  });
}

const run$ = promisify(execFile);

/** stdout's lines that parse as JSON */
function jsonLinesOf(text: string): Record<string, unknown>[] {
  return text.split('\n').flatMap((line) => { try { return [JSON.parse(line) as Record<string, unknown>]; } catch { return []; } });
}

interface Running {
  output(): string;
  /** resolves with the match once the output has it */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** SIGTERM, and its exit */
  stop(): Promise<void>;
}

/**
 * `inlet serve` left running, its stdout a pipe or (terminal: true) a terminal: a pseudo-terminal
 * made by util-linux's `script`, as a person running `npm start` has. The terminal's output has
 * CRLF line ends; they are read as LF.
 */
function serveRunning(args: string[], env: NodeJS.ProcessEnv, { terminal }: { terminal: boolean }): Running {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PORT|HOST|INLET_|KAFKA_|REDIS_URL|DATABASE_URL|LOG_LEVEL|ADMIN_|METRICS_|FAILED_)/.test(k)));
  const command = [process.execPath, BIN, ...args];
  const quoted = command.map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  // detached: the terminal's session and the server in it are one process group, stopped together.
  const child = terminal
    ? spawn('script', ['-qfec', quoted, '/dev/null'], { env: { ...base, ADMIN_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(command[0], command.slice(1), { env: { ...base, ADMIN_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString().replaceAll('\r\n', '\n'); });
  child.stderr!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    output: () => out,
    async waitFor(pattern, ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = pattern.exec(out);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in the output of inlet ${args.join(' ')}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/** A pseudo-terminal for the banner a person sees: util-linux's `script`. */
const terminal = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0
  ? { skip: false as const }
  : { skip: process.env.CI === 'true' ? false as const : 'the script command (util-linux) is not installed' };

const postgres = await needPostgres();
const root = await needRoot('a small tmpfs for a backup that does not fit');
const kafka = await needKafka();

describe('inlet CLI', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'inlet-cli-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('--help on each command exits 0', async () => {
    const runs = await Promise.all([['--help'], ['serve', '--help'], ['tail', '--help'], ['sources', '--help'], ['sources', 'create', '--help'], ['topics', '--help'], ['failed', '--help'], ['stats', '--help'], ['admin', '--help'], ['backup', '--help']].map(async (args) => ({ args, run: await inlet(args) })));
    for (const { args, run } of runs) {
      assert.equal(run.code, 0, `inlet ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stdout, /Usage: inlet/, args.join(' '));
    }
    const serveHelp = runs[1].run.stdout;
    for (const setting of ['PORT', 'INLET_DATA_DIR', 'KAFKA_BROKERS', 'MAX_BODY_BYTES', 'TRUSTED_PROXIES', 'ADMIN_HOST', 'ADMIN_PORT', 'METRICS_ON_PUBLIC_PORT', 'FAILED_RETENTION_DAYS', 'FAILED_MAX_BYTES', 'KAFKA_FAILED_TOPIC']) assert.match(serveHelp, new RegExp(setting));
    for (const command of ['failed list', 'stats', 'admin token']) assert.match(runs[0].run.stdout, new RegExp(command));
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

  test('a flag without its value, a value for a flag that takes none, a stray word: one line and exit 2, no stack trace', async () => {
    const store = join(dir, 'flags');
    const runs = await Promise.all([
      ['sources', 'create', '--name'],
      ['failed', 'list', '--limit'],
      ['tail', 'foo'],
      ['sources', 'create', '--name=x', '--json=1'],
    ].map(async (args) => ({ args, run: await inlet([...args, '--data-dir', store]) })));
    for (const { args, run } of runs) {
      assert.equal(run.code, 2, `inlet ${args.join(' ')}: ${run.stderr}`);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
      assert.match(run.stderr, new RegExp(`^inlet ${args[0]}: `));
    }
  });

  test('a --since beyond what a date can hold is refused in one line (stats, failed list)', async () => {
    for (const args of [['stats', '--since', '300000000d'], ['failed', 'list', '--since', '300000000d'], ['failed', 'list', '--until', '2020-02-30']]) {
      const run = await inlet([...args, '--data-dir', join(dir, 'flags')]);
      assert.notEqual(run.code, 0, args.join(' '));
      assert.doesNotMatch(run.stderr, /\n\s+at |RangeError/, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /since|until/);
    }
  });

  test('serve with a wrong bound prints one line with INLET_INVALID_SETTING naming it, and --help lists the bounds', async () => {
    const [body, order, help] = await Promise.all([
      inlet(['serve'], { BODY_TIMEOUT_MS: 'soon', INLET_DATA_DIR: join(dir, 'never') }),
      inlet(['serve', '--headers-timeout-ms', '5000', '--request-timeout-ms', '4000'], { INLET_DATA_DIR: join(dir, 'never') }),
      inlet(['serve', '--help']),
    ]);
    assert.equal(body.code, 2);
    assert.equal(body.stderr, 'inlet serve: BODY_TIMEOUT_MS must be an integer from 100 to 600000, got "soon" (INLET_INVALID_SETTING)\n');
    assert.equal(order.code, 2);
    assert.match(order.stderr, /^inlet serve: REQUEST_TIMEOUT_MS \(4000\) must be at least HEADERS_TIMEOUT_MS \(5000\) \(INLET_INVALID_SETTING\)\n$/);
    for (const name of ['HEADERS_TIMEOUT_MS', 'BODY_TIMEOUT_MS', 'REQUEST_TIMEOUT_MS', 'KEEP_ALIVE_TIMEOUT_MS', 'MAX_CONNECTIONS', 'MAX_BODY_BYTES_IN_FLIGHT', 'SHUTDOWN_DRAIN_MS']) {
      assert.match(help.stdout, new RegExp(`--[a-z-]+ +${name} `), name);
    }
  });

  test("KAFKA_TOPIC='bad topic!' and its kind stop serve, process and topics create with one line naming the setting", async () => {
    const never = { INLET_DATA_DIR: join(dir, 'never') };
    const [serve, process, topics, sink] = await Promise.all([
      inlet(['serve'], { ...never, KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bad topic!' }),
      inlet(['process'], { KAFKA_BROKERS: '127.0.0.1:9', KAFKA_TOPIC: 'bad topic!' }),
      inlet(['topics', 'create', '--brokers', '127.0.0.1:9', '--partitions', 'many']),
      inlet(['serve'], { ...never, KAFKA_BROKERS: '127.0.0.1:9', KAFKA_COMPRESSION: 'brotli' }),
    ]);
    assert.equal(serve.code, 2);
    assert.equal(serve.stderr, 'inlet serve: KAFKA_TOPIC must be 1-249 characters of letters, digits, \'.\', \'_\' or \'-\', got "bad topic!" (INLET_INVALID_SETTING)\n');
    assert.equal(process.code, 2);
    assert.match(process.stderr, /^inlet process: --input must be 1-249 characters of letters, digits, '\.', '_' or '-', got "bad topic!" \(INLET_INVALID_SETTING\)\n/);
    assert.doesNotMatch(process.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(topics.code, 2);
    assert.equal(topics.stderr, 'inlet topics: --partitions must be an integer from 1 to 1000000, got "many" (INLET_INVALID_SETTING)\n');
    assert.equal(sink.stderr, 'inlet serve: KAFKA_COMPRESSION must be one of lz4, zstd, gzip, snappy, none, got "brotli" (INLET_INVALID_SETTING)\n');
  });

  test('topics create with a bad broker address or an unreachable broker says why, without a stack trace', async () => {
    const closed = net.createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((done) => closed.close(done)); // nothing listens there now
    const [bad, unreachable] = await Promise.all([
      inlet(['topics', 'create', '--brokers', 'nohost']),
      inlet(['topics', 'create', '--brokers', `127.0.0.1:${port}`]),
    ]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'inlet topics: --brokers entry "nohost" is not host:port (port 1-65535; an IPv6 address in brackets, [::1]:9092) (INLET_INVALID_SETTING)\n');
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^inlet topics create: .+/);
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /, 'no stack trace');
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

  test('serve with the admin port already in use names ADMIN_PORT, without a stack trace', async () => {
    const taken = net.createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const run = await inlet(['serve', '--port', '0', '--host', '127.0.0.1', '--admin-port', String(port)], { INLET_DATA_DIR: join(dir, 'busy-admin') });
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${port} \\(already in use\\); choose another with ADMIN_PORT`));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      taken.close();
    }
  });

  test('serve with a HOST or ADMIN_HOST that does not resolve names the setting in one line, exit 1', async () => {
    for (const [env, setting] of [[{ HOST: 'no-such-host.invalid' }, 'HOST or --host'], [{ HOST: '127.0.0.1', ADMIN_HOST: 'no-such-host.invalid' }, 'ADMIN_HOST or --admin-host']] as const) {
      const run = await inlet(['serve', '--port', '0'], { INLET_DATA_DIR: join(dir, 'unresolvable'), ...env });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^inlet serve: cannot listen on "no-such-host\\.invalid": no such address \\(\\w+\\); check ${setting}\n$`));
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

  test('serve, tail and failed list on a damaged database file say so in one line, with what to do, and exit 1', async () => {
    const damaged = join(dir, 'damaged');
    mkdirSync(damaged);
    writeFileSync(join(damaged, 'inlet.db'), randomBytes(64 * 1024));
    for (const args of [['serve', '--port', '0'], ['tail'], ['failed', 'list']]) {
      const run = await inlet(args, { INLET_DATA_DIR: damaged });
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /the embedded store .*inlet\.db is damaged \(file is not a database\): restore it from a backup, or move it away/, args.join(' '));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  test('serve and sources list on a store a newer Inlet upgraded (a rollback) say so in one line and exit 1', async () => {
    const newer = join(dir, 'newer');
    assert.equal((await inlet(['sources', 'create', '--name', 'web', '--data-dir', newer])).code, 0);
    const db = new Database(join(newer, 'inlet.db'));
    db.pragma('user_version = 999');
    db.close();
    for (const args of [['serve', '--port', '0', '--host', '127.0.0.1'], ['sources', 'list']]) {
      const run = await inlet(args, { INLET_DATA_DIR: newer });
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^inlet \w+: the embedded store .*inlet\.db has schema version 999, newer than this Inlet knows \(\d+\); run a newer Inlet\n$/, args.join(' '));
    }
  });

  test('sources create, list, rotate-key, revoke: a key is printed when made, never listed, never stored as it is', async () => {
    const data = join(dir, 'sources');
    const created = await inlet(['sources', 'create', '--name', 'web', '--data-dir', data]);
    assert.equal(created.code, 0, created.stderr);
    const [, id] = /created source (src_\S+) "web"/.exec(created.stdout) ?? [];
    const [, writeKey] = /write key: (wk_\S+)/.exec(created.stdout) ?? [];
    assert.ok(id && writeKey, created.stdout);

    const listed = await inlet(['sources', 'list', '--json', '--data-dir', data]);
    assert.equal(listed.code, 0, listed.stderr);
    const sources = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(sources.map((s) => [s.id, s.name, s.revokedAt]), [[id, 'web', null]]);
    assert.ok(!listed.stdout.includes(writeKey) && !('writeKey' in sources[0]), 'no key in the list');
    const table = (await inlet(['sources', 'list', '--data-dir', data])).stdout;
    assert.match(table, new RegExp(`${id}\\s+web.*active`));
    assert.ok(!table.includes(writeKey));
    for (const file of readdirSync(data).map((f) => join(data, f))) assert.ok(!readFileSync(file).includes(writeKey), `${file} does not hold the key`);

    const rotated = await inlet(['sources', 'rotate-key', 'web', '--data-dir', data]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const [, newKey] = /write key: (wk_\S+)/.exec(rotated.stdout) ?? [];
    assert.ok(newKey && newKey !== writeKey, rotated.stdout);
    assert.match(rotated.stdout, /the old key stops working on running servers within 5 s/);
    const store = new SqliteSourceStore(data);
    try {
      assert.equal(await store.findByKeyHash(hashWriteKey(writeKey)), undefined, 'the old key is gone');
      assert.equal((await store.findByKeyHash(hashWriteKey(newKey)))?.id, id);
    } finally {
      await store.close();
    }
    const unknown = await inlet(['sources', 'rotate-key', 'nope', '--data-dir', data]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no active source with id or name "nope"/);

    const revoked = await inlet(['sources', 'revoke', id, '--data-dir', data]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /running servers refuse its key within 5 s/);
    assert.match((await inlet(['sources', 'list', '--data-dir', data])).stdout, new RegExp(`${id}\\s+web.*revoked`));
    const again = await inlet(['sources', 'revoke', id, '--data-dir', data]);
    assert.notEqual(again.code, 0, 'revoking twice says there is no active source');
    assert.equal((await inlet(['sources', 'rotate-key', id, '--data-dir', data])).code, 1, 'a revoked source gets no new key');

    const noName = await inlet(['sources', 'create', '--data-dir', data]);
    assert.notEqual(noName.code, 0);
    assert.match(noName.stderr, /--name/);
  });

  test('sources: a kind, unique names with a clear error, rename, list --json', async () => {
    const data = join(dir, 'names');
    const run = (...args: string[]) => inlet(['sources', ...args, '--data-dir', data]);
    const api = JSON.parse((await run('create', '--name', 'api', '--kind', 'server', '--json')).stdout) as { id: string; kind: string };
    assert.equal(api.kind, 'server');
    const web = JSON.parse((await run('create', '--name', 'web', '--json')).stdout) as { id: string; kind: string };
    assert.equal(web.kind, 'browser', 'browser is the default kind');

    const duplicate = await run('create', '--name', 'web');
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /a source named "web" already exists/);
    assert.doesNotMatch(duplicate.stderr, /\n\s+at /, 'no stack trace');

    const taken = await run('rename', api.id, '--name', 'web');
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /a source named "web" already exists/);
    const renamed = await run('rename', api.id, '--name', 'backend');
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.match(renamed.stdout, new RegExp(`renamed ${api.id} to "backend"`));
    const missing = await run('rename', 'src_nope', '--name', 'x');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no source with id src_nope/);
    const tooLong = await run('create', '--name', 'x'.repeat(101));
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /^inlet sources create: source name must be at most 100 characters\n$/);
    const badKind = await run('create', '--name', 'x', '--kind', 'mobile');
    assert.equal(badKind.code, 2);
    assert.match(badKind.stderr, /--kind must be browser or server/);

    // A revoked source's name is free again.
    assert.equal((await run('revoke', web.id)).code, 0);
    assert.equal((await run('create', '--name', 'web')).code, 0);

    const listed = JSON.parse((await run('list', '--json')).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(listed.map((s) => [s.name, s.kind, s.revokedAt === null]), [['backend', 'server', true], ['web', 'browser', false], ['web', 'browser', true]]);
    for (const source of listed) assert.deepEqual(Object.keys(source).sort(), ['createdAt', 'id', 'ipPolicy', 'kind', 'name', 'revokedAt']);
    const help = await inlet(['sources', '--help']);
    assert.match(help.stdout, /sources rename <id> --name NAME/);
    assert.match(help.stdout, /list --json prints an array of \{id, name, kind, ipPolicy, createdAt, revokedAt\}/);
    assert.match(help.stdout, /inlet sources rotate-key <id\|name>/);
  });

  test('stats and failed take --source as an id or a name, as plans and sources do; one no source has is an error, not an empty answer', async () => {
    const data = join(dir, 'source-names');
    const server = await startInlet({ dataDir: data });
    try {
      const source = server.server.defaultSource!;
      assert.equal((await postJson(server.url, '/v1/batch', { batch: [{ type: 'track', userId: 'u', event: 'kept' }, { type: 'track', userId: 'u' }] }, server.writeKey)).status, 200);
      for (const given of [source.id, source.name]) {
        const stats = await inlet(['stats', '--json', '--source', given, '--data-dir', data]);
        assert.equal(stats.code, 0, stats.stderr);
        const report = JSON.parse(stats.stdout) as { sources: { sourceId: string; received: number; stored: number; failed: number }[] };
        assert.deepEqual(report.sources.map((s) => [s.sourceId, s.received, s.stored, s.failed]), [[source.id, 2, 1, 1]], `stats --source ${given}`);
        const listed = await inlet(['failed', 'list', '--json', '--source', given, '--data-dir', data]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.deepEqual(listed.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { sourceId: string }).sourceId), [source.id], `failed list --source ${given}`);
        const replay = await inlet(['failed', 'replay', '--dry-run', '--json', '--source', given, '--data-dir', data]);
        assert.equal(replay.code, 0, replay.stderr);
        assert.equal((JSON.parse(replay.stdout) as { matched: number }).matched, 1, `failed replay --source ${given}`);
      }
      for (const args of [['stats'], ['failed', 'list'], ['failed', 'replay', '--dry-run']]) {
        const unknown = await inlet([...args, '--source', 'no-such-source', '--data-dir', data]);
        assert.equal(unknown.code, 1, `${args.join(' ')}: ${unknown.stdout}`);
        assert.match(unknown.stderr, /no source with id or name "no-such-source"/);
      }
    } finally {
      await server.close();
    }
  });

  test('backup copies the embedded store while the server takes events: every event acknowledged before it is in the copy, a file only its owner reads; an existing file or a missing store is one line', { timeout: 60_000 }, async () => {
    const data = join(dir, 'backup');
    const server = await startInlet({ dataDir: data });
    const acked: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const batch = Array.from({ length: 50 }, (_, i) => ({ type: 'track', userId: 'u', event: 'backed up', messageId: `bk-${n}-${i}`, properties: { pad: 'x'.repeat(400) } }));
        if ((await postJson(server.url, '/v1/batch', { batch }, server.writeKey)).status === 200) acked.push(...batch.map((e) => e.messageId));
      }
    })();
    const copy = join(dir, 'backup-copy.db');
    try {
      while (acked.length < 2000) await new Promise((r) => setTimeout(r, 20));
      const before = [...acked];
      const run = await inlet(['backup', copy, '--data-dir', data]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /backed up .*inlet\.db to .*backup-copy\.db/);
      const again = await inlet(['backup', copy, '--data-dir', data]);
      assert.deepEqual([again.code, again.stderr.trim().split('\n').length], [2, 1], again.stderr);
      writing = false;
      await writer;
      assert.equal(statSync(copy).mode & 0o777, 0o600);
      const db = new Database(copy, { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const stored = new Set(db.prepare<[], { id: string }>("SELECT message_id AS id FROM events WHERE message_id LIKE 'bk-%'").all().map((r) => r.id));
        assert.deepEqual(before.filter((id) => !stored.has(id)), [], 'acknowledged before the backup and missing from it');
        assert.equal(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sources').get()!.n, 1, 'the sources come along');
      } finally {
        db.close();
      }
    } finally {
      writing = false;
      await writer;
      await server.close();
    }
    const none = await inlet(['backup', join(dir, 'backup-none.db'), '--data-dir', join(dir, 'no-store-here')]);
    assert.deepEqual([none.code, none.stderr.trim().split('\n').length], [1, 1], none.stderr);
    assert.match(none.stderr, /there is no embedded store/);
    // A copy that fails leaves nothing behind that would stand in the way of the next try.
    const garbage = join(dir, 'backup-garbage');
    mkdirSync(garbage);
    writeFileSync(join(garbage, 'inlet.db'), 'not a database at all, but long enough to have a header'.repeat(100));
    const unreadable = join(dir, 'backup-unreadable');
    mkdirSync(join(unreadable, 'inlet.db'), { recursive: true });
    for (const [store, said] of [[garbage, /is damaged/], [unreadable, /no copy made/]] as const) {
      const target = join(dir, `backup-of-${store.split('/').pop()}.db`);
      const failed = await inlet(['backup', target, '--data-dir', store]);
      assert.deepEqual([failed.code, failed.stderr.trim().split('\n').length], [1, 1], failed.stderr);
      assert.match(failed.stderr, said);
      assert.equal(existsSync(target), false, 'no partial copy left');
    }
  });

  test('backup where the copy does not fit (its pages in use and a margin) refuses in one line, exit 1, saying what it needs and what is free, and writes nothing; free pages of the store are not counted', { skip: root.skip }, async () => {
    const MiB = 1024 * 1024;
    const data = join(dir, 'backup-room');
    assert.equal((await inlet(['sources', 'create', '--name', 'web', '--data-dir', data])).code, 0);
    const db = new Database(join(data, 'inlet.db'));
    db.exec('CREATE TABLE ballast (b BLOB)');
    const insert = db.prepare('INSERT INTO ballast VALUES (randomblob(?))');
    for (let i = 0; i < 40; i++) insert.run(MiB);
    db.close();
    const disk = mkdtempSync(join(tmpdir(), 'inlet-backup-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${64 * MiB},mode=0700`, 'tmpfs', disk]);
    try {
      const target = join(disk, 'copy.db');
      const refused = await inlet(['backup', target, '--data-dir', data]);
      assert.deepEqual([refused.code, refused.stderr.trim().split('\n').length], [1, 1], refused.stderr + refused.stdout);
      const [, needs, inUse, free] = /^inlet backup: not enough room for the copy where .*copy\.db goes: it needs ([\d.]+) MiB \(([\d.]+) MiB in use in the store, and a margin\) and ([\d.]+) MiB is free; no copy made$/m.exec(refused.stderr) ?? [];
      assert.ok(needs, refused.stderr);
      assert.ok(Number(inUse) > 40 && Number(needs) > Number(free) && Number(free) > 60, refused.stderr);
      assert.equal(existsSync(target), false, 'nothing written');

      const shrink = new Database(join(data, 'inlet.db'));
      shrink.exec('DELETE FROM ballast');
      shrink.close();
      const done = await inlet(['backup', target, '--data-dir', data]);
      assert.equal(done.code, 0, done.stderr);
      assert.ok(statSync(target).size < 8 * MiB, 'the free pages were not copied, nor counted against the room');
    } finally {
      execFileSync('umount', ['-l', disk]);
      rmSync(disk, { recursive: true, force: true });
    }
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
  });

  test('serve at a terminal prints the default source\'s key on the first start only, with a curl line that works; later starts say how to get one', { skip: terminal.skip, timeout: 60_000 }, async () => {
    const data = join(dir, 'banner');
    const first = serveRunning(['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', data, '--log-level', 'silent'], {}, { terminal: true });
    try {
      const shown = await first.waitFor(/^ {2}curl .*$/m);
      const [, writeKey] = /Write key of the "default" source: (wk_\S+)/.exec(first.output()) ?? [];
      assert.ok(writeKey, first.output());
      assert.match(first.output(), /Admin token \(shown this once[^\n]*: inlet_at_\S+/);
      const answer = await run$('sh', ['-c', shown[0].trim()]);
      assert.deepEqual(JSON.parse(answer.stdout), { accepted: 1, rejected: 0, errors: [] }, 'the curl line works as printed');
    } finally {
      await first.stop();
    }
    assert.equal(existsSync(join(data, 'first-start-secrets.txt')), false, 'a terminal saw the secrets: no file keeps them');
    const second = serveRunning(['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', data, '--log-level', 'silent'], {}, { terminal: true });
    try {
      await second.waitFor(/rotate-key default/);
      assert.doesNotMatch(second.output(), /wk_|inlet_at_/, 'no secret on a later start');
      assert.match(second.output(), /Write keys are shown only when made: `inlet sources create --name NAME` makes a source and prints its key; `inlet sources rotate-key default` gives a source a new one/);
    } finally {
      await second.stop();
    }
  });

  test('serve whose stdout is not a terminal writes only JSON lines there and no secret: the first start\'s are in a file only its owner reads, which the log names; later starts say it is still there', { timeout: 60_000 }, async () => {
    const data = join(dir, 'banner-piped');
    const args = ['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', data, '--log-level', 'info'];
    const first = serveRunning(args, {}, { terminal: false });
    let writeKey: string;
    try {
      await first.waitFor(/Inlet is listening/);
      const lines = jsonLinesOf(first.output());
      const pointer = lines.find((l) => typeof l.secretsFile === 'string');
      assert.ok(pointer, first.output());
      assert.equal(pointer.level, 40, 'a warning: it asks for action, and gets past LOG_LEVEL=warn');
      const file = String(pointer.secretsFile);
      assert.equal(file, join(resolve(data), 'first-start-secrets.txt'));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const kept = readFileSync(file, 'utf8');
      [, writeKey] = /Write key of the "default" source: (wk_\S+)/.exec(kept) ?? [];
      const [, token] = /Admin token \(shown this once[^\n]*: (inlet_at_\S+)/.exec(kept) ?? [];
      assert.ok(writeKey && token, kept);
      assert.ok(!first.output().includes(writeKey) && !first.output().includes(token), 'no secret in the log');
      const listening = lines.find((l) => String(l.msg).startsWith('Inlet is listening'))!;
      assert.match(String(listening.url), /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(kept, new RegExp(`curl -s ${listening.url}/v1/track .* -u '${writeKey}:'`), 'the curl line a terminal would have shown');
      const stored = await postJson(String(listening.url), '/v1/track', { userId: 'u', event: 'from the file' }, writeKey);
      assert.equal(stored.status, 200, stored.text);
    } finally {
      await first.stop();
    }
    const second = serveRunning(args, {}, { terminal: false });
    try {
      await second.waitFor(/Write keys are shown only when made/);
      assert.doesNotMatch(second.output(), /wk_|inlet_at_/, 'no secret on a later start');
      const warned = jsonLinesOf(second.output()).find((l) => typeof l.secretsFile === 'string');
      assert.match(String(warned?.msg), /first-start-secrets\.txt still holds the secrets of the first start: delete it once they are kept elsewhere/);
    } finally {
      await second.stop();
    }
    for (const output of [first.output(), second.output()]) {
      for (const line of output.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    }
  });

  test('serve on a store with sources but no "default" shows no key and says how to get one', async () => {
    const data = join(dir, 'no-default');
    assert.equal((await inlet(['sources', 'create', '--name', 'web', '--data-dir', data])).code, 0);
    const run = await inlet(['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', data, '--log-level', 'info'], {}, /rotate-key/);
    assert.doesNotMatch(run.stdout, /wk_/);
    assert.match(run.stdout, /`inlet sources create --name NAME` makes a source and prints its key/);
    assert.equal(existsSync(join(data, 'first-start-secrets.txt')), true, 'the admin token was made: kept for its reader');
  });

  test('serve with DATABASE_URL on a fresh database creates the "default" source and keeps its write key for its reader', { skip: postgres.skip }, async () => {
    const admin = new URL(postgres.value!);
    const database = `inlet_cli_${randomUUID().slice(0, 8)}`;
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: admin.href });
    await client.connect();
    await client.query(`CREATE DATABASE ${database}`);
    try {
      const url = new URL(admin.href);
      url.pathname = `/${database}`;
      const data = join(dir, 'pg-default');
      const run = await inlet(['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', data, '--log-level', 'info'], { DATABASE_URL: url.href }, /Inlet is listening/);
      const [, writeKey] = /Write key of the "default" source: (wk_\S+)/.exec(readFileSync(join(data, 'first-start-secrets.txt'), 'utf8')) ?? [];
      assert.ok(writeKey, run.stdout + run.stderr);
      assert.ok(!run.stdout.includes(writeKey));
      const listed = JSON.parse((await inlet(['sources', 'list', '--json'], { DATABASE_URL: url.href })).stdout) as Array<{ name: string; writeKey?: string }>;
      assert.deepEqual(listed.map((s) => [s.name, s.writeKey]), [['default', undefined]]);
      const again = await inlet(['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', data, '--log-level', 'info'], { DATABASE_URL: url.href }, /rotate-key/);
      assert.doesNotMatch(again.stdout, /wk_/);
      assert.match(again.stdout, /`inlet sources create --name NAME` \(with the same DATABASE_URL\)/);
    } finally {
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await client.end();
    }
  });

  test('serve and sources list with a DATABASE_URL nothing answers, or naming a database that does not exist: one line saying where and why, exit 1', { skip: postgres.skip }, async () => {
    const closed = net.createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((done) => closed.close(() => done()));
    const missing = new URL(postgres.value!);
    missing.pathname = `/inlet_missing_${randomUUID().slice(0, 8)}`;
    const cases = [
      { url: `postgres://inlet@127.0.0.1:${port}/inlet`, says: new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}/inlet is unavailable: .*ECONNREFUSED`) },
      { url: missing.href, says: new RegExp(`PostgreSQL at .*${missing.pathname} cannot be used: database ".*" does not exist \\(SQLSTATE 3D000\\)`) },
    ];
    for (const { url, says } of cases) {
      for (const args of [['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, 'pg-unusable')], ['sources', 'list']]) {
        const run = await inlet(args, { DATABASE_URL: url });
        assert.equal(run.code, 1, `${args[0]}: ${run.stderr}`);
        assert.match(run.stderr, says, args[0]);
        assert.match(run.stderr, /\(DATABASE_URL or --database-url\)\n$/, args[0]);
        assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
      }
    }
  });

  test('topics create gives failed-events segments small enough for its retention bounds to hold', { skip: kafka.skip }, async () => {
    const failedTopic = `failed-seg-${randomUUID()}`;
    const run = await inlet(['topics', 'create', '--brokers', kafka.value!, '--topic', failedTopic, '--partitions', '2'], { KAFKA_FAILED_TOPIC: failedTopic, FAILED_MAX_BYTES: String(64 * 1024 ** 2), FAILED_RETENTION_DAYS: '2' });
    assert.equal(run.code, 0, run.stderr);
    const configs = await topicConfigs({ brokers: kafka.value! }, failedTopic, ['retention.bytes', 'retention.ms', 'segment.bytes', 'segment.ms']);
    assert.equal(configs.get('retention.bytes'), String(32 * 1024 ** 2), 'FAILED_MAX_BYTES over the partitions');
    assert.equal(configs.get('retention.ms'), String(2 * 86_400_000));
    // Kafka never deletes the segment being written (by default up to 1 GiB, for up to 7 days).
    assert.equal(configs.get('segment.bytes'), String(8 * 1024 ** 2));
    assert.equal(configs.get('segment.ms'), String(86_400_000 / 2));
    // Asked again with other partitions: left as it is, and said so.
    const again = await inlet(['topics', 'create', '--brokers', kafka.value!, '--topic', failedTopic, '--partitions', '24'], { KAFKA_FAILED_TOPIC: failedTopic });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`${failedTopic} already existed: left as it is \\(2 partitions, not the 24 asked; its retention was not changed\\)`));
  });

  test('topics create asking for more replicas than brokers: one line saying so, exit 1', { skip: kafka.skip }, async () => {
    const run = await inlet(['topics', 'create', '--brokers', kafka.value!, '--topic', `rf3-${randomUUID()}`, '--replication-factor', '3']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^inlet topics create: cannot create topic rf3-\S+: INVALID_REPLICATION_FACTOR/);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, `one line: ${run.stderr}`);
    const unreachable = await inlet(['topics', 'create', '--brokers', '127.0.0.1:1']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Connection to 127\.0\.0\.1:1 failed/);
    assert.equal(unreachable.stderr.trimEnd().split('\n').length, 1, `one line: ${unreachable.stderr}`);
  });

  test('tail on a directory without a store says so and exits 1', async () => {
    for (const args of [['tail', '--data-dir', join(dir, 'nothing-here')], ['tail', '--follow', '--data-dir', '/nonexistent']]) {
      const run = await inlet(args);
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /no Inlet store in .*(nothing-here|nonexistent)/);
    }
  });
});
