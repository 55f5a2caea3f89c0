// The instance's state as gauges on the admin listener's /metrics: inlet_ready says what
// /health/ready answers (the same decision), and, with REDIS_URL, inlet_rate_limit_shared says
// whether rate limits are shared through Redis (1) or decided by this instance alone because Redis
// is away (0). Redis is a private redis-server the test kills and starts again.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChildRedis, needRedisServer, startInlet, type TestInlet } from '@inlet/testkit';
import { GatedSink } from './gated-sink.ts';
import { adminRequest, request } from './http-client.ts';

const redisServer = await needRedisServer();

/** The embedded sink, with its readiness switched by the test (a disk that filled up, brokers that went away). */
class SwitchedSink extends GatedSink {
  up = true;
  override ready(): Promise<boolean> {
    return this.up ? super.ready() : Promise.resolve(false);
  }
}

/** A gauge's value from the admin listener's /metrics; undefined when it is not there. */
async function gauge(inlet: TestInlet, name: string): Promise<number | undefined> {
  const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics');
  assert.equal(reply.status, 200);
  const line = reply.text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('instance gauges on /metrics', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => { for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {}); });

  test('inlet_ready is 1 while /health/ready answers 200 and 0 while it answers 503; no inlet_rate_limit_shared without Redis', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'inlet-gauges-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const sink = new SwitchedSink(dataDir);
    const inlet = await startInlet({ dataDir }, { sink });
    cleanups.push(() => inlet.close());
    const readyStatus = async () => (await request(inlet.url, '/health/ready', { method: 'GET' })).status;

    assert.equal(await readyStatus(), 200);
    assert.equal(await gauge(inlet, 'inlet_ready'), 1);
    sink.up = false;
    assert.equal(await readyStatus(), 503);
    assert.equal(await gauge(inlet, 'inlet_ready'), 0);
    sink.up = true;
    assert.equal(await gauge(inlet, 'inlet_ready'), 1);
    assert.equal(await readyStatus(), 200);
    assert.equal(await gauge(inlet, 'inlet_rate_limit_shared'), undefined, 'limits kept in memory share nothing: no gauge saying they do not');
  });

  test('inlet_rate_limit_shared is 1 while Redis decides, 0 while it is away and each instance limits alone, 1 again when it returns', { skip: redisServer.skip, timeout: 60_000 }, async () => {
    const redis = await ChildRedis.start();
    cleanups.push(() => redis.kill());
    const inlet = await startInlet({ redisUrl: redis.url });
    cleanups.push(() => inlet.close());
    const shared = () => gauge(inlet, 'inlet_rate_limit_shared');

    await until('the limiter to reach Redis', async () => (await shared()) === 1);
    await redis.kill();
    await until('the gauge to say the limits are local', async () => (await shared()) === 0);
    assert.equal(await gauge(inlet, 'inlet_ready'), 1, 'Redis away costs no readiness: limits are decided locally');
    await redis.start();
    await until('the gauge to say the limits are shared again', async () => (await shared()) === 1);
  });
});
