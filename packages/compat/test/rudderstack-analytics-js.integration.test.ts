// @rudderstack/analytics-js 3.x (RudderStack's JavaScript SDK, from npm; its `bundled` build, which
// carries its plugins instead of fetching them from RudderStack's CDN) in headless Chromium,
// unchanged: the data plane URL and configUrl are Inlet. It fetches GET /sourceConfig/ first, then
// posts each event to /v1/<type> (XHR, JSON, Basic auth, AnonymousId and SentAt headers), or with
// batching to /v1/batch, or in beacon mode with navigator.sendBeacon to /beacon/v1/batch?writeKey=.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { bundle, chromiumNeed, launchChromium, openRecorded, startSite, waitFor, type Site, type WireRequest } from './helpers/browser.ts';
import { assertStoredAsSent, type Sent } from './helpers/stored.ts';

/** The calls a page makes: every event type the SDK has, with properties, traits, context and integrations. */
const CALLS = `
  ra.identify('user-1', { email: 'ada@example.com', plan: 'pro' }, { campaign: { name: 'spring' } });
  ra.track('Signed Up', { plan: 'pro', seats: 3, tag: TAG }, { integrations: { All: true, Mixpanel: false } });
  ra.page('Docs', 'Getting Started', { section: 'intro', tag: TAG });
  ra.group('g-1', { name: 'Acme', employees: 12 });
  ra.alias('user-2', 'user-1');
`;
const TYPES = ['alias', 'group', 'identify', 'page', 'track'];

describe('@rudderstack/analytics-js in Chromium against Inlet', { skip: chromiumNeed.skip }, () => {
  let inlet: TestInlet;
  let browser: Browser;
  let site: Site;

  before(async () => {
    const script = await bundle("import { RudderAnalytics } from '@rudderstack/analytics-js/bundled'; window.RudderAnalytics = RudderAnalytics;");
    [inlet, browser, site] = await Promise.all([startInlet(), launchChromium(), startSite(script)]);
  });
  after(async () => { await Promise.allSettled([browser?.close(), inlet?.close(), site?.close()]); });

  /** Loads the SDK with dataPlaneUrl and configUrl = Inlet (plus `options`), makes CALLS once it is ready. */
  async function run(options: Record<string, unknown>) {
    const recorded = await openRecorded(browser);
    const tag = randomUUID();
    const loadOptions = { configUrl: inlet.url, ...options };
    try {
      await recorded.page.goto(`${site.url}/page.html`);
      await recorded.page.evaluate(`new Promise((resolve, reject) => {
        const TAG = ${JSON.stringify(tag)};
        const ra = new window.RudderAnalytics();
        window.ra = ra;
        ra.load(${JSON.stringify(inlet.writeKey)}, ${JSON.stringify(inlet.url)}, { ...${JSON.stringify(loadOptions)}, onLoaded: () => {} });
        const timer = setTimeout(() => reject(new Error('the SDK never became ready')), 15000);
        ra.ready(() => {
          clearTimeout(timer);
          ${CALLS}
          resolve();
        });
      })`);
      return { recorded, tag };
    } catch (error) {
      await recorded.context.close();
      throw error;
    }
  }

  /** The POSTs whose body has been read (a beacon's body is fetched from the browser after the fact). */
  const posts = (wire: WireRequest[]) => wire.filter((r) => r.method === 'POST' && r.body !== undefined);

  /** Every event the SDK posted, with the batch's sentAt for batched ones. */
  function sentEvents(wire: WireRequest[]): { event: Sent; batchSentAt?: string }[] {
    return posts(wire).flatMap((r) => {
      const body = JSON.parse(r.body!) as Record<string, unknown>;
      if (!Array.isArray(body.batch)) return [{ event: body as Sent }];
      return (body.batch as Sent[]).map((event) => ({ event, batchSentAt: body.sentAt as string }));
    });
  }

  async function expectStored(wire: WireRequest[], tag: string) {
    const sent = sentEvents(wire);
    assert.deepEqual(sent.map((s) => s.event.type).sort(), TYPES, 'one of each event type was sent');
    const ids = new Set(sent.map((s) => s.event.messageId));
    const stored = await waitFor(`${ids.size} events stored`, async () => {
      const mine = (await inlet.events()).filter((r) => ids.has(r.messageId));
      return mine.length === ids.size ? mine : undefined;
    });
    for (const { event, batchSentAt } of sent) assertStoredAsSent(stored.find((r) => r.messageId === event.messageId)!, event, { batchSentAt, sourceId: inlet.server.defaultSource!.id });

    const track = stored.find((r) => r.type === 'track')!;
    assert.equal(track.event, 'Signed Up');
    assert.deepEqual(track.properties, { plan: 'pro', seats: 3, tag });
    assert.deepEqual(track.integrations, { All: true, Mixpanel: false });
    assert.equal(track.userId, 'user-1');
    const identify = stored.find((r) => r.type === 'identify')!;
    assert.deepEqual((identify.context.traits as Record<string, unknown>), { email: 'ada@example.com', plan: 'pro' });
    assert.deepEqual(identify.context.campaign, { name: 'spring' });
    assert.equal(stored.find((r) => r.type === 'page')!.name, 'Getting Started');
    assert.deepEqual(stored.find((r) => r.type === 'group')!.traits, { name: 'Acme', employees: 12 });
    const alias = stored.find((r) => r.type === 'alias')!;
    assert.deepEqual([alias.userId, alias.previousId], ['user-2', 'user-1']);
    return stored;
  }

  /** The config request: GET /sourceConfig/ with the write key, answered 200. */
  function assertConfigFetched(wire: WireRequest[]) {
    const config = wire.find((r) => r.method === 'GET' && r.url.pathname === '/sourceConfig/');
    assert.ok(config, 'the SDK fetched its source config from Inlet');
    assert.equal(config.url.searchParams.get('writeKey'), inlet.writeKey);
    assert.equal(config.status, 200);
  }

  /** CORS preflights Inlet has answered so far. */
  async function preflights(): Promise<number> {
    const metrics = await (await fetch(`${inlet.adminUrl}/metrics`, { headers: { authorization: `Bearer ${inlet.adminToken}` } })).text();
    return Number(/^inlet_http_requests_total\{route="\*",status="204"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  }

  test('XHR delivery: GET /sourceConfig/, then each event to /v1/<type> with its own headers, stored field by field', async () => {
    const { recorded, tag } = await run({});
    try {
      const done = await waitFor('five posts answered', () => {
        const answered = posts(recorded.wire).filter((r) => r.status !== undefined);
        return answered.length >= 5 ? answered : undefined;
      });
      assert.deepEqual(done.map((r) => r.url.pathname).sort(), TYPES.map((t) => `/v1/${t}`));
      for (const post of done) {
        assert.equal(post.status, 200, `${post.url.pathname}: ${post.status}`);
        assert.match(post.headers['content-type'], /^application\/json/);
        assert.equal(post.headers.authorization, `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}`);
        assert.ok(post.headers.anonymousid, 'the AnonymousId header (it makes the browser preflight)');
        assert.ok(post.headers.sentat, 'the SentAt header');
      }
      assertConfigFetched(recorded.wire);
      await expectStored(recorded.wire, tag);

      // Its headers (AnonymousId, SentAt, Authorization) make every post preflighted; the answers
      // are cached, so the same calls again need none.
      const before = await preflights();
      assert.ok(before >= 5, `${before} preflights for the first round`);
      await recorded.page.evaluate(`(() => { const ra = window.ra; const TAG = 'again'; ${CALLS} })()`);
      await waitFor('five more posts answered', () => (posts(recorded.wire).filter((r) => r.status !== undefined).length >= 10 ? true : undefined));
      assert.equal(await preflights(), before, 'no new preflight: the answers were cached');
      assert.deepEqual(recorded.offHost, [], 'no request left 127.0.0.1');
    } finally {
      await recorded.context.close();
    }
  });

  test('XHR batching: one POST to /v1/batch, every event stored field by field', async () => {
    const { recorded, tag } = await run({ queueOptions: { batch: { enabled: true, maxItems: 5, flushInterval: 1000 } } });
    try {
      const done = await waitFor('the batch answered', () => {
        const answered = posts(recorded.wire).filter((r) => r.status !== undefined);
        return answered.length >= 1 && sentEvents(answered).length >= 5 ? answered : undefined;
      });
      assert.deepEqual([...new Set(done.map((r) => `${r.url.pathname} ${r.status}`))], ['/v1/batch 200']);
      assertConfigFetched(recorded.wire);
      await expectStored(recorded.wire, tag);
      assert.deepEqual(recorded.offHost, [], 'no request left 127.0.0.1');
    } finally {
      await recorded.context.close();
    }
  });

  test('beacon mode: sendBeacon to /beacon/v1/batch?writeKey=, every event stored field by field', async () => {
    const { recorded, tag } = await run({ useBeacon: true, beaconQueueOptions: { maxItems: 5, flushQueueInterval: 1000 } });
    try {
      const done = await waitFor('the beacon sent', () => {
        const sent = posts(recorded.wire);
        return sent.length >= 1 && sentEvents(sent).length >= 5 ? sent : undefined;
      });
      for (const beacon of done) {
        assert.equal(beacon.url.pathname, '/beacon/v1/batch');
        assert.equal(beacon.url.searchParams.get('writeKey'), inlet.writeKey);
        assert.match(beacon.headers['content-type'], /^text\/plain/);
      }
      assertConfigFetched(recorded.wire);
      await expectStored(recorded.wire, tag);
      assert.deepEqual(recorded.offHost, [], 'no request left 127.0.0.1');
    } finally {
      await recorded.context.close();
    }
  });
});
