// Calls and options the SDK must not turn into garbage or lost events: identify(traits) without an
// id, calls without a name or id, properties JSON cannot hold, a plugin that returns a non-event,
// and an endpoint without a scheme. Event calls never throw at the host page; bad options do.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConsoleMessage, Page } from 'playwright-core';
import { chromiumNeed, openPage, startEnv, stopEnv, type Env } from './helpers/setup.ts';
import { expectDelivered, tagged } from './helpers/events.ts';

/** The SDK's debug lines ("[inlet] ...") that the page logs from now on. */
function debugLines(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (m: ConsoleMessage) => m.text().startsWith('[inlet] ') && lines.push(m.text()));
  return lines;
}

describe('@inlet/browser in Chromium: bad calls and options', { skip: chromiumNeed.skip }, () => {
  let env: Env;
  before(async () => { env = await startEnv(); });
  after(() => stopEnv(env));

  const options = (extra: Record<string, unknown> = {}) => ({ writeKey: env.inlet.writeKey, endpoint: env.inlet.url, flushIntervalMs: 100, ...extra });

  test('identify(traits) keeps the user as is (Segment\'s form); track, group and alias without a name or id are dropped', async () => {
    const { context, page } = await openPage(env);
    const logs = debugLines(page);
    const tag = 'no-id';
    const url = env.site.page(tag, options({ debug: true }));
    await page.goto(url);
    const calls = await page.evaluate(async () => {
      const anonymous = analytics.identify({ email: 'a@example.com' });
      const before = { userId: analytics.userId, stored: localStorage.getItem('ajs_user_id') };
      const made = {
        anonymous,
        named: analytics.identify('user-9', { plan: 'pro' }),
        traitsOnly: analytics.identify({ plan: 'team' }),
        nullId: analytics.identify(null, { seats: 3 }),
        group: analytics.group('g-7', { size: 2 }),
        numericGroup: analytics.group(7 as unknown as string),
        track: analytics.track('kept', { i: 0 }),
      };
      const dropped = [
        analytics.track(null as unknown as string),
        analytics.track(''),
        analytics.track({ event: 'x' } as unknown as string),
        analytics.group(undefined as unknown as string, { size: 1 }),
        analytics.group({ id: 'g' } as unknown as string),
        analytics.alias(undefined as unknown as string),
      ];
      await analytics.flush();
      return { before, made, dropped, userId: analytics.userId };
    });
    assert.deepEqual(calls.before, { userId: undefined, stored: null }, 'identify(traits) sets no user id');
    assert.equal(calls.userId, 'user-9', 'identify(traits) leaves the identified user as is');
    assert.deepEqual(calls.dropped, [undefined, undefined, undefined, undefined, undefined, undefined], 'a call without a usable name or id sends nothing');
    assert.equal(logs.filter((l) => l === '[inlet] invalid event dropped').length, 6, 'each dropped call is logged in debug mode');

    const m = calls.made;
    const records = await expectDelivered(env.inlet.events, tag, Object.values(m) as string[]); // and nothing else carries the tag
    const find = (id: string | undefined) => records.find((r) => r.messageId === id)!;
    assert.deepEqual(find(m.anonymous).traits, { email: 'a@example.com' });
    assert.equal(find(m.anonymous).userId ?? undefined, undefined);
    assert.equal(find(m.named).userId, 'user-9');
    assert.deepEqual(find(m.traitsOnly).traits, { plan: 'team' });
    assert.equal(find(m.traitsOnly).userId, 'user-9');
    assert.deepEqual(find(m.nullId).traits, { seats: 3 });
    assert.equal(find(m.nullId).userId, 'user-9');
    assert.equal(find(m.group).groupId, 'g-7');
    assert.equal(find(m.numericGroup).groupId, '7', 'a numeric id is taken as a string, as Segment does');
    assert.equal(find(m.track).userId, 'user-9');

    await page.reload();
    assert.equal(await page.evaluate(() => analytics.userId), 'user-9', 'the stored user id survives the reload');
    await context.close();
  });

  test('a plugin that returns a string or an array loses that event only, not its batch', async () => {
    const { context, page } = await openPage(env);
    const logs = debugLines(page);
    const tag = 'plugin-non-object';
    await page.goto(env.site.page(tag, options({ plugins: ['notAnObject'], debug: true })));
    const ids = await page.evaluate(async () => {
      // one batch: the interval has not elapsed between the calls
      const made = [analytics.track('kept', { i: 0 }), analytics.track('mangled', { i: 1 }), analytics.track('listed', { i: 2 }), analytics.track('kept', { i: 3 })];
      await analytics.flush();
      return made;
    });
    assert.equal(ids[1], undefined, 'the event the plugin turned into a string is dropped');
    assert.equal(ids[2], undefined, 'the event the plugin turned into an array is dropped');
    await expectDelivered(env.inlet.events, tag, [ids[0]!, ids[3]!]);
    assert.equal(logs.filter((l) => l === '[inlet] invalid event dropped').length, 2);
    assert.ok(!logs.some((l) => l.startsWith('[inlet] batch rejected')), 'the batch was accepted');
    await context.close();
  });

  test('a batch the server refuses for good is logged as rejected with its status, never as delivered', async () => {
    const { context, page } = await openPage(env);
    const logs = debugLines(page);
    await page.goto(env.site.page('refused-batch', options({ writeKey: 'wk_not_a_key_of_this_server', debug: true })));
    await page.evaluate(async () => {
      analytics.track('refused', { i: 0 });
      await analytics.flush();
    });
    assert.ok(logs.some((l) => l.startsWith('[inlet] batch rejected with status 401')), logs.join('\n'));
    assert.ok(!logs.some((l) => l.startsWith('[inlet] batch delivered')), logs.join('\n'));
    await context.close();
  });

  test('properties JSON cannot hold (a cycle, a BigInt): no exception in the page, that event dropped, the others sent', async () => {
    const { context, page } = await openPage(env);
    const logs = debugLines(page);
    const tag = 'unserializable';
    await page.goto(env.site.page(tag, options({ debug: true })));
    const ids = await page.evaluate(async () => {
      const circular: Record<string, unknown> = { a: 1 };
      circular.self = circular;
      const made = [
        analytics.track('fine', { i: 0 }),
        analytics.track('circular', circular),
        analytics.track('big', { n: 1n }),
        analytics.page({ n: 2n }),
        analytics.group('g-1', circular),
        analytics.track('fine', { i: 1 }),
      ];
      await analytics.flush();
      return made;
    });
    assert.deepEqual(ids.slice(1, 5), [undefined, undefined, undefined, undefined]);
    await expectDelivered(env.inlet.events, tag, [ids[0]!, ids[5]!]);
    assert.equal(logs.filter((l) => l === '[inlet] invalid event dropped').length, 4);
    await context.close();
  });

  test('an endpoint that is neither an http(s) URL nor a path is refused with a TypeError; a path of the page\'s origin works', async () => {
    const { context, page } = await openPage(env);
    const tag = 'endpoint';
    await page.goto(env.site.page(tag, options()));
    const endpoints = ['inlet.example.com', '127.0.0.1:8080', 'localhost:8080/collect', 'collect', 'ftp://inlet.example.com', 'javascript:alert(1)',
      'https://inlet.example.com', 'HTTP://127.0.0.1:8080/', 'https://example.com/inlet', '/_i', '/_i/'];
    // (no named function inside: tsx's __name helper does not exist in the page)
    const outcomes = await page.evaluate(([writeKey, list]) => Object.fromEntries(list.map((endpoint) => {
      try {
        new window.Inlet.Analytics({ writeKey, endpoint, flushIntervalMs: 60_000 });
        return [endpoint, 'ok'];
      } catch (error) {
        return [endpoint, error instanceof TypeError ? `TypeError: ${(error as Error).message}` : `other: ${String(error)}`];
      }
    })), [env.inlet.writeKey, endpoints] as const);
    const refused = (endpoint: string) => `TypeError: Inlet: endpoint must be an http(s) URL or a /path, got "${endpoint}"`;
    assert.deepEqual(outcomes, {
      'inlet.example.com': refused('inlet.example.com'),
      '127.0.0.1:8080': refused('127.0.0.1:8080'),
      'localhost:8080/collect': refused('localhost:8080/collect'),
      collect: refused('collect'),
      'ftp://inlet.example.com': refused('ftp://inlet.example.com'),
      'javascript:alert(1)': refused('javascript:alert(1)'),
      'https://inlet.example.com': 'ok',
      'HTTP://127.0.0.1:8080/': 'ok',
      'https://example.com/inlet': 'ok',
      '/_i': 'ok',
      '/_i/': 'ok',
    });

    // A path (a collect proxy on the site's own origin, as @inlet/node's inletCollect): requests
    // go to {origin}{path}/v1/batch. The route plays the proxy and forwards to the real server.
    const posted: string[] = [];
    await page.route(`${env.site.url}/_i/v1/batch`, async (route) => {
      posted.push(route.request().url());
      await route.fulfill({ response: await route.fetch({ url: `${env.inlet.url}/v1/batch` }) });
    });
    const ids = await page.evaluate(async (writeKey) => {
      const proxied = new window.Inlet.Analytics({ writeKey, endpoint: '/_i/', flushIntervalMs: 60_000 });
      const made = [proxied.track('through the path', { i: 0 })!];
      await proxied.flush();
      return made;
    }, env.inlet.writeKey);
    await expectDelivered(env.inlet.events, tag, ids);
    assert.deepEqual(posted, [`${env.site.url}/_i/v1/batch`]);
    assert.equal(tagged(await env.inlet.events(), tag).length, 1);
    await context.close();
  });
});
