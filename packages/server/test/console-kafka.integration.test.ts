// The console's Live page on the Kafka sink with two server instances: a viewer signed in on one
// instance sees, within a second, the events another instance stored (and the ones it could not
// store), because the live view follows the topics rather than its own server's writes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { needChromium, needKafka, startInlet, type TestInlet } from '@inlet/testkit';
import { launchChromium } from '../../browser/test/helpers/browser.ts';
import { buildConsole } from './console-build.ts';
import { postJson } from './http-client.ts';
import { openSse } from './console-sse.ts';

const kafka = await needKafka();
const chromium = await needChromium();
const BIN = resolve(import.meta.dirname, '../bin/inlet.js');

describe('the console on the Kafka sink, two instances', { skip: kafka.skip || chromium.skip }, () => {
  const brokers = kafka.value ?? '';
  const topic = `console-raw-${process.pid}-${Date.now()}`;
  const failedTopic = `console-failed-${process.pid}-${Date.now()}`;
  let watched: TestInlet;
  let other: TestInlet;
  let browser: Browser;
  let page: Page;

  before(async () => {
    await promisify(execFile)(process.execPath, [BIN, 'topics', 'create', '--brokers', brokers, '--topic', topic, '--topic', failedTopic, '--partitions', '3']);
    const kafkaConfig = { brokers: brokers.split(','), topic, failedTopic, clientId: 'console-e2e', lingerMs: 0, compression: 'lz4' as const };
    [watched, other, browser] = await Promise.all([startInlet({ kafka: kafkaConfig }), startInlet({ kafka: kafkaConfig }), launchChromium(chromium.value!), buildConsole()]);
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await Promise.all([watched?.close(), other?.close()]);
  });

  test('Live on one instance shows, within a second, what the other instance stored and failed', async () => {
    await page.goto(`${watched.adminUrl}/console`);
    await page.fill('input[name=token]', watched.adminToken!);
    await page.click('button[type=submit]');
    await page.locator('.status-live').waitFor();

    assert.equal((await postJson(other.url, '/v1/track', { userId: 'kafka-user', event: 'From The Other Instance' }, other.writeKey)).status, 200);
    // Within 1 s of the request's 200, as the console promises (the produce before it is the sink's).
    const answered = Date.now();
    await page.locator('.live-row', { hasText: 'From The Other Instance' }).waitFor({ timeout: 1000 });
    assert.ok(Date.now() - answered < 1000, `shown ${Date.now() - answered} ms after the 200`);

    assert.equal((await postJson(watched.url, '/v1/track', { userId: 'kafka-user', event: 'From This Instance' }, watched.writeKey)).status, 200);
    await page.locator('.live-row', { hasText: 'From This Instance' }).waitFor({ timeout: 1000 });

    await postJson(other.url, '/v1/track', { userId: 'kafka-invalid' }, other.writeKey);
    const failedRow = page.locator('.live-row.failed', { hasText: 'kafka-invalid' });
    await failedRow.waitFor({ timeout: 2000 });
    await failedRow.click();
    assert.match((await page.locator('pre.json').textContent())!, /event is required/);
  });

  test('the follower stops when the last viewer leaves and starts again for the next', async () => {
    await page.goto('about:blank');
    const auth = { authorization: `Bearer ${watched.adminToken}` };
    await new Promise((r) => setTimeout(r, 300));
    const stream = await openSse(watched.adminUrl, '/api/live', auth);
    try {
      assert.equal((await postJson(other.url, '/v1/track', { userId: 'again', event: 'Again' }, other.writeKey)).status, 200);
      const seen = await stream.next((e) => e.event === 'stored' && e.data.includes('"Again"'), 2000);
      assert.equal(JSON.parse(seen.data).userId, 'again');
    } finally {
      stream.close();
    }
  });

  test('a burst larger than the page keeps is decoded only in part: the newest are shown, the rest counted as dropped', async () => {
    const auth = { authorization: `Bearer ${watched.adminToken}` };
    const stream = await openSse(watched.adminUrl, '/api/live', auth);
    try {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'track', userId: 'burst', event: `Burst ${i}` }));
      assert.equal((await postJson(other.url, '/v1/batch', { batch }, other.writeKey)).status, 200);
      const newest = await stream.next((e) => e.event === 'stored' && e.data.includes('"Burst 999"'), 3000);
      assert.equal(JSON.parse(newest.data).event, 'Burst 999');
      // Whatever else of the burst comes within a second: shown or counted, never all decoded.
      await new Promise((r) => setTimeout(r, 1000));
      const shown = stream.events.filter((e) => e.event === 'stored' && e.data.includes('"Burst ')).length;
      const dropped = stream.events.filter((e) => e.event === 'dropped').reduce((sum, e) => sum + (JSON.parse(e.data).dropped as number), 0);
      assert.ok(shown <= 500, `${shown} of the burst decoded and sent`);
      assert.ok(dropped >= 500, `${dropped} told as dropped`);
    } finally {
      stream.close();
    }
  });
});
