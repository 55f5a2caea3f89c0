// Pages that go away with events queued: reloads, navigation right after track(), and queues the
// page gave up on. Persisted events are sent by the next page load; beacons carry the rest.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumNeed, openPage, startEnv, stopEnv, type Env } from './helpers/setup.ts';
import { startProxy } from './helpers/proxy.ts';
import { expectDelivered, tagged } from './helpers/events.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('@inlet/browser in Chromium: unloads', { skip: chromiumNeed.skip }, () => {
  let env: Env;
  before(async () => { env = await startEnv(); });
  after(() => stopEnv(env));

  const options = (endpoint: string, extra: Record<string, unknown> = {}) => ({
    writeKey: env.inlet.writeKey, endpoint, flushIntervalMs: 60_000, retryBaseMs: 50, retryMaxMs: 200, ...extra,
  });

  test('a reload while events are queued: all arrive', async () => {
    const { context, page } = await openPage(env);
    const tag = 'reload';
    await page.goto(env.site.page(tag, options(env.inlet.url)));
    const ids = await page.evaluate(() => Array.from({ length: 8 }, (_, i) => analytics.track('queued', { i })!));
    await page.reload();
    await expectDelivered(env.inlet.events, tag, ids);
    await context.close();
  });

  test('a reload while the server refuses: the persisted queue is sent by the next page load', async () => {
    const proxy = await startProxy(env.inlet.url);
    proxy.answer = () => ({ status: 503 }); // the beacon at pagehide is refused too
    const { context, page } = await openPage(env);
    const tag = 'reload-503';
    const url = env.site.page(tag, options(proxy.url));
    await page.goto(url);
    const ids = await page.evaluate(() => Array.from({ length: 8 }, (_, i) => analytics.track('kept', { i })!));
    await page.reload();
    const beaconed = proxy.requests.filter((r) => r.messageIds.length);
    assert.ok(beaconed.length >= 1 && beaconed.every((r) => r.status === 503), 'the pagehide beacon reached the proxy and was refused');
    assert.equal(tagged(await env.inlet.events(), tag).length, 0);
    proxy.answer = () => undefined;
    await expectDelivered(env.inlet.events, tag, ids);
    const resent = proxy.requests.filter((r) => r.status === 200 || r.status === 0);
    assert.ok(resent.flatMap((r) => r.messageIds).every((id) => ids.includes(id)), 'the next page load sends the same messageIds');
    await context.close();
    await proxy.close();
  });

  test('track() then immediate navigation to a page without the SDK: the event arrives', async () => {
    const { context, page } = await openPage(env);
    const tag = 'navigate';
    await page.goto(env.site.page(tag, options(env.inlet.url)));
    const id = await page.evaluate(() => {
      const made = analytics.track('clicked checkout', { i: 0 })!;
      location.href = '/other.html';
      return made;
    });
    await page.waitForURL('**/other.html');
    await expectDelivered(env.inlet.events, tag, [id]);
    await context.close();
  });

  test('closing the tab with events queued: the beacon delivers them', async () => {
    const context = await env.browser.newContext();
    const page = await context.newPage();
    const tag = 'close';
    await page.goto(env.site.page(tag, options(env.inlet.url)));
    const ids = await page.evaluate(() => Array.from({ length: 5 }, (_, i) => analytics.track('closing', { i })!));
    await page.close({ runBeforeUnload: true });
    await expectDelivered(env.inlet.events, tag, ids);
    await context.close();
  });

  test('the tab is hidden (a phone switching apps): queued events go out at once, and showing it again loses nothing', async () => {
    const proxy = await startProxy(env.inlet.url);
    const { context, page } = await openPage(env);
    const tag = 'hidden';
    await page.goto(env.site.page(tag, options(proxy.url)));
    const setVisibility = (state: 'hidden' | 'visible') => page.evaluate((s) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, value: s });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
    const ids = await page.evaluate(() => Array.from({ length: 4 }, (_, i) => analytics.track('backgrounded', { i })!));
    await setVisibility('hidden');
    await expectDelivered(env.inlet.events, tag, ids); // flushIntervalMs is 60 s: only the hide sent them
    await setVisibility('visible');
    const more = await page.evaluate(async () => {
      const made = [analytics.track('back', { i: 9 })!];
      await analytics.flush();
      return made;
    });
    await expectDelivered(env.inlet.events, tag, [...ids, ...more]);
    const sent = proxy.requests.flatMap((r) => r.messageIds);
    assert.ok(sent.every((id) => ids.includes(id) || more.includes(id)), 'only these messageIds crossed the wire');
    await context.close();
    await proxy.close();
  });

  test('out of retries: events are kept and sent by the next page load, not dropped', async () => {
    const proxy = await startProxy(env.inlet.url);
    proxy.answer = () => ({ status: 503 });
    const { context, page } = await openPage(env);
    const tag = 'gave-up';
    await page.goto(env.site.page(tag, options(proxy.url, { retryAttempts: 2 })));
    const ids = await page.evaluate(async () => {
      const made = Array.from({ length: 3 }, (_, i) => analytics.track('parked', { i })!);
      await analytics.flush(); // resolves once the batch is out of retries
      return made;
    });
    const attempts = proxy.requests.length;
    assert.equal(attempts, 3, 'one attempt and two retries');
    await sleep(400);
    assert.equal(proxy.requests.length, attempts, 'no more attempts from this page');
    proxy.answer = () => undefined;
    await page.goto(env.site.page(tag, options(proxy.url)));
    await expectDelivered(env.inlet.events, tag, ids);
    await context.close();
    await proxy.close();
  });
});
