// `inlet plans ...` run as users run it: the bin as a child process, on the data directory of a
// running server, which applies what the command stores within 5 seconds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import type { PlanVersion } from '../src/plans/plan-store.ts';
import { postJson } from './http-client.ts';

const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

interface Run { code: number; stdout: string; stderr: string }

function inlet(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<Run> {
  return new Promise((done) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PORT|HOST|INLET_|KAFKA_|REDIS_URL|DATABASE_URL|LOG_LEVEL|ADMIN_|METRICS_|FAILED_)/.test(k)));
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

const PLAN = {
  unplanned: 'flag',
  violations: 'flag',
  events: { 'Order Completed': { properties: { type: 'object', required: ['orderId', 'total'], properties: { orderId: { type: 'string' }, total: { type: 'number' } } } } },
};

describe('inlet plans', () => {
  let server: TestInlet;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let sourceId: string;

  before(async () => {
    server = await startInlet();
    sourceId = server.server.defaultSource!.id;
    env = { INLET_DATA_DIR: server.dataDir };
    dir = mkdtempSync(join(tmpdir(), 'inlet-plans-cli-'));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function storedWith(messageId: string): Promise<NormalizedRecord | undefined> {
    return (await server.events()).find((e) => e.messageId === messageId);
  }

  /** Sends an event until the running server has stored it checked against plan `version`, for up to `ms`. */
  async function appliedWithin(version: number | undefined, ms: number): Promise<NormalizedRecord> {
    const deadline = Date.now() + ms;
    for (;;) {
      const messageId = randomUUID();
      await postJson(server.url, '/v1/track', { userId: 'u', event: 'order_completed', properties: {}, messageId }, server.writeKey);
      const record = (await storedWith(messageId))!;
      const seen = (record.context.inlet as { plan?: { version: number } } | undefined)?.plan?.version;
      if (seen === version || Date.now() > deadline) return record;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('--help lists every action, and the main help names the command', async () => {
    const [help, main] = await Promise.all([inlet(['plans', '--help']), inlet(['--help'])]);
    assert.equal(help.code, 0);
    for (const action of ['put', 'get', 'history', 'delete', 'infer', 'typegen']) assert.match(help.stdout, new RegExp(`inlet plans ${action} --source`));
    assert.match(main.stdout, /plans put\|get\|history\|delete\|infer\|typegen/);
  });

  test('put from the command line is applied by the running server within 5 s; get, history, typegen, delete', async () => {
    const file = join(dir, 'plan.json');
    writeFileSync(file, JSON.stringify(PLAN));
    const put = await inlet(['plans', 'put', '--source', sourceId, file], env);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /stored plan v1 for src_\S+ \(1 events, unplanned: flag, violations: flag\)/);
    const record = await appliedWithin(1, 5000);
    assert.deepEqual(record.context.inlet, { plan: { version: 1 } });
    assert.deepEqual(record.context.violations, [{ path: 'event', message: '"order_completed" is not in the tracking plan' }]);

    // By name too, and from stdin.
    const again = await inlet(['plans', 'put', '--source', 'default', '-'], env, JSON.stringify({ ...PLAN, unplanned: 'allow' }));
    assert.equal(again.code, 0, again.stderr);
    const got = await inlet(['plans', 'get', '--source', sourceId], env);
    assert.equal(JSON.parse(got.stdout).unplanned, 'allow');
    const first = await inlet(['plans', 'get', '--source', sourceId, '--version', '1'], env);
    assert.equal(JSON.parse(first.stdout).unplanned, 'flag');
    const history = await inlet(['plans', 'history', '--source', sourceId, '--json'], env);
    assert.deepEqual((JSON.parse(history.stdout) as PlanVersion[]).map((v) => v.version), [2, 1]);
    const lines = await inlet(['plans', 'history', '--source', sourceId], env);
    assert.match(lines.stdout, /^v2 {2}\S+ {2}1 events, unplanned: allow, violations: flag, \d+ bytes\nv1 /);

    const out = join(dir, 'analytics.ts');
    const typegen = await inlet(['plans', 'typegen', '--source', sourceId, '--out', out], env);
    assert.equal(typegen.code, 0, typegen.stderr);
    assert.match(readFileSync(out, 'utf8'), /"Order Completed": \{\n\s+orderId: string;\n\s+total: number;/);

    const deleted = await inlet(['plans', 'delete', '--source', sourceId], env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /recorded as v3/);
    const unchecked = await appliedWithin(undefined, 5000);
    assert.equal(unchecked.context.inlet, undefined, 'the running server stopped checking within 5 s');
    const none = await inlet(['plans', 'get', '--source', sourceId], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /has no plan/);
  });

  test('infer prints a plan from the stored events, which put takes as it is', async () => {
    const messageIds = [randomUUID(), randomUUID()];
    await postJson(server.url, '/v1/batch', { batch: [
      { type: 'track', userId: 'u', event: 'Cart Viewed', properties: { items: 2, value: 9.5 }, messageId: messageIds[0] },
      { type: 'track', userId: 'u', event: 'Cart Viewed', properties: { items: 3 }, messageId: messageIds[1] },
    ] }, server.writeKey);
    const out = join(dir, 'inferred.json');
    const infer = await inlet(['plans', 'infer', '--source', sourceId, '--since', '10m', '--out', out], env);
    assert.equal(infer.code, 0, infer.stderr);
    assert.match(infer.stderr, /inferred from \d+ events of src_\S+ since/);
    const plan = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(plan.events['Cart Viewed'].properties, { type: 'object', properties: { items: { type: 'integer' }, value: { type: 'number' } }, required: ['items'] });
    const put = await inlet(['plans', 'put', '--source', sourceId, out], env);
    assert.equal(put.code, 0, put.stderr);
  });

  test('inlet failed replay checks blocked events against the plan as it is now', async () => {
    const blocking = { ...PLAN, unplanned: 'allow', violations: 'block' };
    const file = join(dir, 'blocking.json');
    writeFileSync(file, JSON.stringify(blocking));
    assert.equal((await inlet(['plans', 'put', '--source', sourceId, file], env)).code, 0);
    // Sent until the server blocks it: the command's put reaches the server within 5 s.
    const send = () => postJson(server.url, '/v1/track', { userId: 'u', event: 'Order Completed', properties: { orderId: 1 }, messageId: randomUUID() }, server.writeKey);
    const deadline = Date.now() + 5000;
    let reply = await send();
    while (reply.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      reply = await send();
    }
    assert.equal(reply.json?.code, 'INLET_PLAN_VIOLATION');

    const still = await inlet(['failed', 'replay', '--source', sourceId, '--reason', 'plan_violation', '--json'], env);
    assert.equal(still.code, 0, still.stderr);
    assert.deepEqual(JSON.parse(still.stdout), { dryRun: false, matched: 1, passed: 0, stored: 0, duplicates: 0, stillFailing: 1 });
    writeFileSync(file, JSON.stringify({ ...blocking, violations: 'flag' }));
    assert.equal((await inlet(['plans', 'put', '--source', sourceId, file], env)).code, 0);
    const passed = await inlet(['failed', 'replay', '--source', sourceId, '--reason', 'plan_violation', '--json'], env);
    assert.equal(JSON.parse(passed.stdout.trim().split('\n').pop()!).passed, 1, passed.stdout);
  });

  test('a bad plan, a missing file, an unknown source and a missing store are one line each, without a stack trace', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ events: { X: { properties: { type: 'strng' } } } }));
    const [invalid, missing, unknown, noStore, noSource] = await Promise.all([
      inlet(['plans', 'put', '--source', sourceId, bad], env),
      inlet(['plans', 'put', '--source', sourceId, join(dir, 'nope.json')], env),
      inlet(['plans', 'get', '--source', 'src_nope'], env),
      inlet(['plans', 'get', '--source', 'x'], { INLET_DATA_DIR: join(dir, 'no-store') }),
      inlet(['plans', 'get'], env),
    ]);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /^inlet plans put: Invalid tracking plan: events\["X"\]\.properties: .*type/);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT/);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no source with id or name "src_nope"/);
    assert.equal(noStore.code, 1);
    assert.match(noStore.stderr, /there is no embedded store/);
    assert.equal(noSource.code, 2);
    for (const run of [invalid, missing, unknown, noStore, noSource]) assert.doesNotMatch(run.stderr, /\n\s+at /);
  });
});
