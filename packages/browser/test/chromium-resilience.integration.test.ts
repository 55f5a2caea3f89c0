// Failures between the browser and the server: offline, 503s, 429 with Retry-After, definitive
// rejections, and two tabs sending at once. A proxy in front of the real server plays the failures.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumNeed, openPage, startEnv, stopEnv, type Env } from './helpers/setup.ts';
import { startProxy, type Proxy } from './helpers/proxy.ts';
import { expectDelivered, tagged } from './helpers/events.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('@inlet/browser in Chromium: failures', { skip: chromiumNeed.skip }, () => {
  let env: Env;
  let proxy: Proxy;
  before(async () => { env = await startEnv(); });
  after(() => stopEnv(env));

  async function freshProxy() {
    proxy = await startProxy(env.inlet.url);
    return proxy;
  }
  const options = (extra: Record<string, unknown> = {}) => ({
    writeKey: env.inlet.writeKey, endpoint: proxy.url, flushIntervalMs: 50, retryBaseMs: 50, retryMaxMs: 200, ...extra,
  });
  const carrying = (ids: string[]) => proxy.requests.filter((r) => r.messageIds.some((id) => ids.includes(id)));

  test('offline: nothing is attempted; back online, everything arrives', async () => {
    await freshProxy();
    const { context, page } = await openPage(env);
    const tag = 'offline';
    await page.goto(env.site.page(tag, options()));
    await context.setOffline(true);
    const ids = await page.evaluate(() => Array.from({ length: 6 }, (_, i) => analytics.track('offline', { i })!));
    await sleep(800);
    assert.equal(tagged(await env.inlet.events(), tag).length, 0);
    await context.setOffline(false);
    await expectDelivered(env.inlet.events, tag, ids);
    await context.close();
    await proxy.close();
  });

  test('503 for a while, then 200: retried with backoff, nothing lost', async () => {
    await freshProxy();
    proxy.answer = (n) => (n <= 4 ? { status: 503 } : undefined);
    const { context, page } = await openPage(env);
    const tag = '503';
    await page.goto(env.site.page(tag, options({ batchSize: 5 })));
    const ids = await page.evaluate(() => Array.from({ length: 12 }, (_, i) => analytics.track('during outage', { i })!));
    await expectDelivered(env.inlet.events, tag, ids);
    assert.deepEqual(proxy.requests.slice(0, 4).map((r) => r.status), [503, 503, 503, 503]);
    assert.deepEqual(proxy.requests.slice(0, 4).map((r) => r.messageIds), Array(4).fill(ids.slice(0, 5)), 'a retry resends the same events, same messageIds');
    assert.ok(proxy.requests.every((r) => r.contentType?.startsWith('text/plain')), 'text/plain: no CORS preflight');
    await context.close();
    await proxy.close();
  });

  test('429 with Retry-After: the client waits as long as it is told', async () => {
    await freshProxy();
    proxy.answer = (n) => (n === 1 ? { status: 429, headers: { 'Retry-After': '1' } } : undefined);
    const { context, page } = await openPage(env);
    const tag = '429';
    await page.goto(env.site.page(tag, options({ retryBaseMs: 10, retryMaxMs: 20 })));
    const ids = await page.evaluate(() => Array.from({ length: 3 }, (_, i) => analytics.track('rate limited', { i })!));
    await expectDelivered(env.inlet.events, tag, ids);
    const [first, second] = proxy.requests;
    assert.equal(first.status, 429);
    assert.ok(second.at - first.at >= 900, `retried after ${second.at - first.at} ms; Retry-After asked for 1000 (backoff alone is 20 ms at most)`);
    await context.close();
    await proxy.close();
  });

  test('400 and 401 are definitive: not retried, flush() resolves, later events still go', async () => {
    await freshProxy();
    proxy.answer = (n) => (n === 1 ? { status: 400 } : n === 2 ? { status: 401 } : undefined);
    const { context, page } = await openPage(env);
    const tag = 'rejected';
    await page.goto(env.site.page(tag, options({ flushIntervalMs: 60_000 })));
    const [bad, unauthorized, good] = await page.evaluate(async () => {
      const made: string[] = [];
      for (const name of ['bad', 'unauthorized', 'good']) {
        made.push(analytics.track(name, { i: 0 })!);
        await analytics.flush();
      }
      return made;
    });
    await sleep(300);
    assert.equal(carrying([bad]).length, 1);
    assert.equal(carrying([unauthorized]).length, 1);
    await expectDelivered(env.inlet.events, tag, [good]);
    await context.close();
    await proxy.close();
  });

  test('two tabs tracking at once: every event of both arrives', async () => {
    await freshProxy();
    proxy.answer = (n) => (n % 3 === 0 ? { status: 503 } : undefined); // some failures too
    const context = await env.browser.newContext();
    const tag = 'two-tabs';
    const url = env.site.page(tag, options({ batchSize: 7 }));
    const tabs = await Promise.all([context.newPage(), context.newPage()]);
    await Promise.all(tabs.map((tab) => tab.goto(url)));
    const made = await Promise.all(tabs.map((tab, t) => tab.evaluate(async (t) => {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        ids.push(analytics.track('tab ' + t, { i })!);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 20));
      }
      return ids;
    }, t)));
    // a third tab opening meanwhile must not take over the live tabs' queues
    const third = await context.newPage();
    await third.goto(url);
    await expectDelivered(env.inlet.events, tag, made.flat());
    await context.close();
    await proxy.close();
  });
});
