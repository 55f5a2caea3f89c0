// The SDK in real Chromium against a real Inlet server on another origin: what it sends, identity,
// batching, plugins, broken storage, flush(), the loader snippet and the ESM build.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromiumNeed, openPage, startEnv, stopEnv, type Env } from './helpers/setup.ts';
import { startProxy } from './helpers/proxy.ts';
import { expectDelivered, tagged, waitFor, type Stored } from './helpers/events.ts';

describe('@inlet/browser in Chromium: events', { skip: chromiumNeed.skip }, () => {
  let env: Env;
  before(async () => { env = await startEnv(); });
  after(() => stopEnv(env));

  const options = (extra: Record<string, unknown> = {}) => ({ writeKey: env.inlet.writeKey, endpoint: env.inlet.url, flushIntervalMs: 100, ...extra });

  test('track, identify and page arrive with identity, context, messageId and sentAt', async () => {
    const { context, page } = await openPage(env);
    const tag = 'fields';
    await page.goto(env.site.page(tag, options()));
    const { ids, anonymousId } = await page.evaluate(() => ({
      ids: [
        analytics.identify('user-1', { plan: 'pro' })!,
        analytics.track('Clicked', { i: 1, color: 'red' })!,
        analytics.page('Home', { section: 'top' })!,
        analytics.group('g-1', { size: 3 })!,
        analytics.alias('user-2')!,
      ],
      anonymousId: analytics.anonymousId,
    }));
    const records = await expectDelivered(env.inlet.events, tag, ids);
    const byType = Object.fromEntries(records.map((r) => [r.type, r])) as Record<string, Stored>;

    assert.equal(byType.identify.userId, 'user-1');
    assert.deepEqual(byType.identify.traits, { plan: 'pro' });
    assert.equal(byType.track.event, 'Clicked');
    assert.deepEqual(byType.track.properties, { i: 1, color: 'red' });
    assert.equal(byType.track.userId, 'user-1', 'identify sets the user for later events');
    assert.equal(byType.page.name, 'Home');
    assert.equal(byType.page.properties?.path, '/page.html');
    assert.equal(byType.page.properties?.section, 'top');
    assert.deepEqual(Object.keys(byType.page.properties ?? {}).sort(), ['path', 'referrer', 'search', 'section', 'title', 'url'], 'page() properties: the address without its hash, title, referrer, the caller\'s');
    assert.ok(String(byType.page.properties?.url).startsWith(env.site.url + '/page.html?t=fields'));
    assert.match(String(byType.page.properties?.search), /^\?t=fields&cfg=/);
    assert.equal(byType.group.groupId, 'g-1');
    assert.equal(byType.alias.userId, 'user-2');
    assert.equal(byType.alias.previousId, 'user-1');
    for (const r of records) {
      assert.equal(r.anonymousId, anonymousId);
      assert.match(r.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
      assert.ok(r.sentAt, 'sentAt is set when sent');
      assert.ok(r.originalTimestamp, 'the client time is kept as originalTimestamp');
      assert.ok(Date.parse(r.sentAt as string) >= Date.parse(r.originalTimestamp as string), 'created, then sent');
      const c = r.context as Record<string, any>;
      assert.equal(c.page.path, '/page.html');
      assert.ok(c.page.url.startsWith(env.site.url + '/page.html?t=fields'));
      assert.equal(c.page.title, 'Inlet test page');
      assert.equal(typeof c.page.referrer, 'string');
      assert.match(c.page.search, /^\?t=fields&cfg=/);
      assert.equal(c.page.hash, '');
      assert.match(c.userAgent, /Chrome/);
      assert.ok(c.locale);
      assert.ok(c.timezone);
      assert.ok(c.sessionId);
      assert.deepEqual(c.library, { name: '@inlet/browser', version: '0.1.0' });
    }
    await context.close();
  });

  test('identity persists across reloads and tabs; reset() starts a new anonymous identity', async () => {
    const { context, page } = await openPage(env);
    const tag = 'identity';
    const url = env.site.page(tag, options());
    await page.goto(url);
    const first = await page.evaluate(() => {
      analytics.identify('user-7');
      return { anonymousId: analytics.anonymousId, stored: localStorage.getItem('ajs_anonymous_id'), session: sessionStorage.getItem('ajs_session_id') };
    });
    assert.equal(first.stored, JSON.stringify(first.anonymousId));
    await page.reload();
    const again = await page.evaluate(() => ({ anonymousId: analytics.anonymousId, userId: analytics.userId, id: analytics.track('after reload', { i: 1 }) }));
    assert.equal(again.anonymousId, first.anonymousId);
    assert.equal(again.userId, 'user-7');

    const tab = await context.newPage();
    await tab.goto(url);
    const other = await tab.evaluate(() => ({ anonymousId: analytics.anonymousId, session: sessionStorage.getItem('ajs_session_id'), id: analytics.track('second tab', { i: 2 }) }));
    assert.equal(other.anonymousId, first.anonymousId, 'tabs share the anonymous id');
    assert.notEqual(other.session, first.session, 'each tab has its own session');

    const reset = await page.evaluate(() => {
      analytics.reset();
      return { anonymousId: analytics.anonymousId, userId: analytics.userId, id: analytics.track('after reset', { i: 3 }) };
    });
    assert.notEqual(reset.anonymousId, first.anonymousId);
    assert.equal(reset.userId, undefined);

    const records = await waitFor('identity events', async () => {
      const mine = tagged(await env.inlet.events(), tag);
      return [again.id, other.id, reset.id].every((id) => mine.some((r) => r.messageId === id)) && mine;
    });
    const find = (id: string | undefined) => records.find((r) => r.messageId === id)!;
    assert.equal(find(again.id).userId, 'user-7');
    assert.equal(find(again.id).anonymousId, first.anonymousId);
    assert.equal((find(again.id).context as { sessionId: string }).sessionId, JSON.parse(first.session!), 'the session survives a reload');
    assert.equal(find(other.id).userId, 'user-7');
    assert.equal(find(reset.id).anonymousId, reset.anonymousId);
    assert.equal(find(reset.id).userId ?? undefined, undefined);
    await context.close();
  });

  test('batches by size at once, and by interval otherwise', async () => {
    const proxy = await startProxy(env.inlet.url);
    const { context, page } = await openPage(env);
    const tag = 'batching';
    await page.goto(env.site.page(tag, options({ endpoint: proxy.url, batchSize: 5, flushIntervalMs: 60_000 })));
    const ids = await page.evaluate(() => Array.from({ length: 12 }, (_, i) => analytics.track('batched', { i })!));
    await expectDelivered(env.inlet.events, tag, ids.slice(0, 10));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(proxy.requests.map((r) => r.messageIds), [ids.slice(0, 5), ids.slice(5, 10)], 'two full batches, the rest waits for the interval');
    assert.equal(tagged(await env.inlet.events(), tag).length, 10);

    const tag2 = 'interval';
    await page.goto(env.site.page(tag2, options({ endpoint: proxy.url, batchSize: 100, flushIntervalMs: 200 })));
    const ids2 = await page.evaluate(() => Array.from({ length: 3 }, (_, i) => analytics.track('timed', { i })!));
    await expectDelivered(env.inlet.events, tag2, ids2);
    const carrying = proxy.requests.filter((r) => r.messageIds.some((id) => ids2.includes(id)));
    assert.deepEqual(carrying.map((r) => r.messageIds), [ids2], 'one request when the interval elapsed');
    await context.close();
    await proxy.close();
  });

  test('track() does constant work: no network, no storage write, one serialization of its own event', async () => {
    const { context, page } = await openPage(env);
    const tag = 'constant-work';
    await page.goto(env.site.page(tag, options({ batchSize: 50 })));
    const seen = await page.evaluate(async () => {
      const counts = { fetch: 0, beacon: 0, setItem: 0, stringify: 0, largest: 0 };
      const { fetch: realFetch, sendBeacon } = { fetch: window.fetch, sendBeacon: navigator.sendBeacon };
      const { setItem } = Storage.prototype;
      const { stringify } = JSON;
      window.fetch = (...args) => { counts.fetch++; return realFetch(...args); };
      navigator.sendBeacon = (...args) => { counts.beacon++; return sendBeacon.apply(navigator, args); };
      Storage.prototype.setItem = function (...args) { counts.setItem++; return setItem.apply(this, args); };
      JSON.stringify = ((value: unknown, ...rest: []) => {
        const out = stringify(value, ...rest);
        counts.stringify++;
        counts.largest = Math.max(counts.largest, out.length);
        return out;
      }) as typeof JSON.stringify;
      const ids = [];
      for (let i = 0; i < 400; i++) ids.push(analytics.track('burst', { i })!); // 8 full batches
      const during = { ...counts };
      JSON.stringify = stringify;
      await analytics.flush();
      return { during, after: counts, ids };
    });
    assert.deepEqual({ ...seen.during, largest: 0 }, { fetch: 0, beacon: 0, setItem: 0, stringify: 400, largest: 0 }, 'only the events themselves were serialized, nothing sent or stored');
    assert.ok(seen.during.largest < 2000, `the largest string built during track() was ${seen.during.largest} chars: one event, not the queue`);
    assert.ok(seen.after.fetch >= 8, 'the batches went out after track() returned');
    await expectDelivered(env.inlet.events, tag, seen.ids);
    await context.close();
  });

  test('plugins run in order: one modifies, one drops, one that throws is skipped', async () => {
    const { context, page } = await openPage(env);
    const tag = 'plugins';
    await page.goto(env.site.page(tag, options({ plugins: ['throws', 'enrich', 'dropSecret'] })));
    const ids = await page.evaluate(async () => {
      const made = [analytics.track('visible', { i: 0 }), analytics.track('secret', { i: 1 }), analytics.track('visible', { i: 2 })];
      await analytics.flush();
      return made;
    });
    assert.equal(ids[1], undefined, 'track() tells that the event was dropped');
    const records = await expectDelivered(env.inlet.events, tag, [ids[0]!, ids[2]!]);
    assert.ok(records.every((r) => r.properties?.enriched === true));
    assert.ok(!records.some((r) => r.event === 'secret'));
    await context.close();
  });

  test('each event carries the address of its call, after pushState, search and hash changes, whatever a plugin did to the last one', async () => {
    const { context, page } = await openPage(env);
    const tag = 'spa';
    await page.goto(env.site.page(tag, options({ plugins: ['markPath'] })));
    const ids = await page.evaluate(async () => {
      const made = [analytics.track('landed')!];
      history.pushState(null, '', '/shop/item' + location.search + '#reviews');
      made.push(analytics.track('navigated')!);
      history.replaceState(null, '', location.pathname + location.search + '&page=2' + location.hash);
      made.push(analytics.track('paged')!);
      location.hash = '#more';
      made.push(analytics.track('scrolled')!, analytics.track('scrolled again')!);
      await analytics.flush();
      return made;
    });
    const records = await expectDelivered(env.inlet.events, tag, ids);
    const pages = ids.map((id) => (records.find((r) => r.messageId === id)!.context as Record<string, any>).page);
    const paged = (search: string) => search.endsWith('&page=2');
    assert.deepEqual(pages.map((p) => [p.path, paged(p.search), p.hash]), [
      ['/page.html+', false, ''], ['/shop/item+', false, '#reviews'], ['/shop/item+', true, '#reviews'], ['/shop/item+', true, '#more'], ['/shop/item+', true, '#more'],
    ]);
    assert.ok(pages.every((p) => p.url === new URL(p.path.slice(0, -1) + p.search + p.hash, env.site.url).href), 'url, path, search and hash agree');
    await context.close();
  });

  for (const [name, breakStorage] of [
    ['storage that throws on access (sandboxed iframe, blocked cookies)', () => {
      for (const area of ['localStorage', 'sessionStorage']) {
        Object.defineProperty(window, area, { configurable: true, get() { throw new DOMException('denied', 'SecurityError'); } });
      }
    }],
    ['storage that throws on write (quota, Safari private mode)', () => {
      Storage.prototype.setItem = () => { throw new DOMException('full', 'QuotaExceededError'); };
    }],
  ] as const) {
    test(`everything works in memory with ${name}`, async () => {
      const { context, page } = await openPage(env);
      await context.addInitScript(breakStorage);
      const tag = `storage-${name.slice(27, 35)}`;
      await page.goto(env.site.page(tag, options()));
      const { ids, anonymousId } = await page.evaluate(async () => {
        const made = [analytics.identify('mem-user')!, analytics.track('in memory', { i: 0 })!, analytics.page()!];
        await analytics.flush();
        return { ids: made, anonymousId: analytics.anonymousId };
      });
      const records = await expectDelivered(env.inlet.events, tag, ids);
      assert.ok(anonymousId);
      assert.ok(records.every((r) => r.anonymousId === anonymousId));
      assert.equal(records.find((r) => r.type === 'track')!.userId, 'mem-user');
      await context.close();
    });
  }

  test('await flush() resolves only after the server has stored the events', async () => {
    const proxy = await startProxy(env.inlet.url);
    proxy.delayMs = 400; // a slow path to the server: resolving early would show
    const { context, page } = await openPage(env);
    const tag = 'flush';
    await page.goto(env.site.page(tag, options({ endpoint: proxy.url, flushIntervalMs: 60_000, batchSize: 4 })));
    const ids = await page.evaluate(async () => {
      const made = Array.from({ length: 10 }, (_, i) => analytics.track('before redirect', { i })!);
      await analytics.flush();
      return made;
    });
    const stored = tagged(await env.inlet.events(), tag).map((r) => r.messageId);
    assert.deepEqual(ids.filter((id) => !stored.includes(id)), [], 'every event is stored when flush() resolves');
    assert.equal(await page.evaluate(() => analytics.flush().then(() => 'resolved')), 'resolved', 'flush() with nothing queued resolves');
    await context.close();
    await proxy.close();
  });

  test("the README snippet queues calls made before the script loads, then replays them", async () => {
    const { context, page } = await openPage(env);
    const tag = 'snippet';
    await page.goto(env.site.snippetPage(tag, env.inlet.writeKey, env.inlet.url, "inlet.identify('snippet-user'); inlet.track('early', { i: 0 });"));
    await page.waitForFunction(() => typeof window.Inlet === 'object' && window.inlet instanceof window.Inlet.Analytics);
    await page.evaluate(() => (window.inlet as { flush(): Promise<void> }).flush());
    const records = tagged(await env.inlet.events(), tag);
    assert.deepEqual(records.map((r) => r.type).sort(), ['identify', 'page', 'track']);
    const track = records.find((r) => r.type === 'track')!;
    assert.equal(track.event, 'early');
    assert.equal(track.userId, 'snippet-user', 'calls are replayed in order');
    const idTime = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    for (const r of records) assert.equal(idTime(r.messageId), Date.parse(r.originalTimestamp as string), `${r.type}: the messageId carries the time of the call, not of its replay`);
    await context.close();
  });

  test('the Inlet server serves the built dist/inlet.min.js at /sdk/inlet.min.js, and it works', {
    skip: !existsSync(join(import.meta.dirname, '../dist/inlet.min.js')) && 'dist/ not built (npm run build -w @inlet/browser)',
  }, async () => {
    const { context, page } = await openPage(env);
    const tag = 'first-party';
    const src = `${env.inlet.url}/sdk/inlet.min.js`;
    await page.goto(env.site.snippetPage(tag, env.inlet.writeKey, env.inlet.url, "inlet.track('served', { i: 0 });", src));
    await page.waitForFunction(() => typeof window.Inlet === 'object' && window.inlet instanceof window.Inlet.Analytics);
    await page.evaluate(() => (window.inlet as { flush(): Promise<void> }).flush());
    assert.deepEqual(tagged(await env.inlet.events(), tag).map((r) => r.type).sort(), ['page', 'track']);
    await context.close();
  });

  test('the ESM build works as a module', async () => {
    const { context, page } = await openPage(env);
    const tag = 'esm';
    await page.goto(env.site.page(tag, options(), 'esm.html'));
    await page.waitForFunction(() => window.ready === true);
    const ids = await page.evaluate(async () => {
      const made = [analytics.track('from esm', { i: 0 })!];
      await analytics.flush();
      return made;
    });
    await expectDelivered(env.inlet.events, tag, ids);
    await context.close();
  });
});
