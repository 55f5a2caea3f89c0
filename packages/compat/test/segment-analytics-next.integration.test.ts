// @segment/analytics-next (Segment's analytics.js 2.0, from npm) in headless Chromium, unchanged,
// with only its settings pointed at Inlet: cdnSettings.integrations['Segment.io'] = { apiKey,
// apiHost: '<inlet host>/v1', protocol }. It posts each event to /v1/t, /v1/i, /v1/p, /v1/s,
// /v1/g, /v1/a (text/plain, Basic auth), or, with the batching delivery strategy, to /v1/b.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { bundle, chromiumNeed, launchChromium, openRecorded, startSite, waitFor, type Site, type WireRequest } from './helpers/browser.ts';
import { assertStoredAsSent, type Sent } from './helpers/stored.ts';

const SHORT_PATHS: Record<string, string> = { t: 'track', i: 'identify', p: 'page', s: 'screen', g: 'group', a: 'alias' };

/** The calls a page makes: every event type, with properties, traits, context and integrations. */
const CALLS = `
  await analytics.identify('user-1', { email: 'ada@example.com', plan: 'pro' }, { context: { campaign: { name: 'spring' } } });
  await analytics.track('Signed Up', { plan: 'pro', seats: 3, tag: TAG }, { integrations: { Mixpanel: false } });
  await analytics.page('Docs', 'Getting Started', { section: 'intro', tag: TAG });
  await analytics.screen('Settings', 'Billing', { tab: 'cards', tag: TAG });
  await analytics.group('g-1', { name: 'Acme', employees: 12 });
  await analytics.alias('user-1', 'anon-9');
`;

describe('@segment/analytics-next in Chromium against Inlet', { skip: chromiumNeed.skip }, () => {
  let inlet: TestInlet;
  let browser: Browser;
  let site: Site;

  before(async () => {
    const script = await bundle("import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;");
    [inlet, browser, site] = await Promise.all([startInlet(), launchChromium(), startSite(script)]);
  });
  after(async () => { await Promise.allSettled([browser?.close(), inlet?.close(), site?.close()]); });

  /** Loads the SDK with the settings the README gives, makes CALLS, returns what went over the wire. */
  async function run(segmentIo: Record<string, unknown>) {
    const recorded = await openRecorded(browser);
    const inletHost = new URL(inlet.url).host;
    const cdnSettings = {
      integrations: { 'Segment.io': { apiKey: inlet.writeKey, apiHost: `${inletHost}/v1`, protocol: 'http', ...segmentIo } },
      metrics: { sampleRate: 0 },
    };
    const tag = randomUUID();
    try {
      await recorded.page.goto(`${site.url}/page.html`);
      await recorded.page.evaluate(`(async () => {
        const TAG = ${JSON.stringify(tag)};
        const analytics = window.AnalyticsBrowser.load({ writeKey: ${JSON.stringify(inlet.writeKey)}, cdnSettings: ${JSON.stringify(cdnSettings)} });
        ${CALLS}
      })()`);
      return { recorded, tag };
    } catch (error) {
      await recorded.context.close();
      throw error;
    }
  }

  /** Every event the SDK posted to Inlet, with the batch's sentAt for batched ones. */
  interface SentEvent { event: Sent; type?: string; batchSentAt?: string }
  function sentEvents(wire: WireRequest[]): SentEvent[] {
    return wire.filter((r) => r.method === 'POST' && r.url.host === new URL(inlet.url).host).flatMap((r): SentEvent[] => {
      const body = JSON.parse(r.body!) as Record<string, unknown>;
      const short = /^\/v1\/([a-z])$/.exec(r.url.pathname)?.[1];
      if (short && short !== 'b') return [{ event: body as Sent, type: SHORT_PATHS[short] }];
      return (body.batch as Sent[]).map((event) => ({ event, batchSentAt: body.sentAt as string }));
    });
  }

  async function expectStored(wire: WireRequest[]) {
    const sent = sentEvents(wire);
    assert.deepEqual(sent.map((s) => s.event.type ?? s.type).sort(), ['alias', 'group', 'identify', 'page', 'screen', 'track'], 'one of each event type was sent');
    const ids = new Set(sent.map((s) => s.event.messageId));
    const stored = await waitFor(`${ids.size} events stored`, async () => {
      const mine = (await inlet.events()).filter((r) => ids.has(r.messageId));
      return mine.length === ids.size ? mine : undefined;
    });
    for (const { event, type, batchSentAt } of sent) {
      assertStoredAsSent(stored.find((r) => r.messageId === event.messageId)!, event, { type, batchSentAt, sourceId: inlet.server.defaultSource!.id });
    }
    return stored;
  }

  test('standard delivery: each event type to its short route, stored field by field, nothing sent elsewhere', async () => {
    const { recorded, tag } = await run({});
    try {
      const posts = await waitFor('six posts answered', () => {
        const done = recorded.wire.filter((r) => r.method === 'POST' && r.status !== undefined && r.body !== undefined);
        return done.length >= 6 ? done : undefined;
      });
      assert.deepEqual(posts.map((r) => r.url.pathname).sort(), ['/v1/a', '/v1/g', '/v1/i', '/v1/p', '/v1/s', '/v1/t']);
      for (const post of posts) {
        assert.equal(post.status, 200, `${post.url.pathname}: ${post.status}`);
        assert.match(post.headers['content-type'], /^text\/plain/);
        assert.equal(post.headers.authorization, `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}`);
      }
      const stored = await expectStored(recorded.wire);
      const track = stored.find((r) => r.type === 'track')!;
      assert.equal(track.event, 'Signed Up');
      assert.deepEqual(track.properties, { plan: 'pro', seats: 3, tag });
      assert.deepEqual(track.integrations, { Mixpanel: false });
      assert.equal(track.userId, 'user-1');
      assert.deepEqual(stored.find((r) => r.type === 'identify')!.traits, { email: 'ada@example.com', plan: 'pro' });
      assert.deepEqual(stored.find((r) => r.type === 'identify')!.context.campaign, { name: 'spring' });
      assert.equal(stored.find((r) => r.type === 'group')!.groupId, 'g-1');
      assert.equal(stored.find((r) => r.type === 'alias')!.previousId, 'anon-9');
      assert.equal(stored.find((r) => r.type === 'screen')!.name, 'Billing');
      assert.deepEqual(recorded.offHost, [], 'no request left 127.0.0.1');
    } finally {
      await recorded.context.close();
    }
  });

  test('batching delivery: one POST to /v1/b, every event stored field by field', async () => {
    const { recorded } = await run({ deliveryStrategy: { strategy: 'batching', config: { size: 6, timeout: 1000 } } });
    try {
      const posts = await waitFor('the batch answered', () => {
        const done = recorded.wire.filter((r) => r.method === 'POST' && r.status !== undefined && r.body !== undefined);
        return done.length >= 1 ? done : undefined;
      });
      assert.deepEqual(posts.map((r) => [r.url.pathname, r.status]), [['/v1/b', 200]]);
      assert.equal((JSON.parse(posts[0].body!).batch as unknown[]).length, 6);
      await expectStored(recorded.wire);
      assert.deepEqual(recorded.offHost, [], 'no request left 127.0.0.1');
    } finally {
      await recorded.context.close();
    }
  });
});
