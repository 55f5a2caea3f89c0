// @segment/analytics-node 3.x (Segment's Node library, from npm), unchanged, with `host` = Inlet:
// it posts batches to /v1/batch (JSON, Basic auth). What it sent is read from its own
// `http_request` event; the store must hold every event of it, field by field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { assertStoredAsSent, type Sent } from './helpers/stored.ts';

describe('@segment/analytics-node against Inlet', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet(); });
  after(async () => { await inlet.close(); });

  test('every event type, delivered as a batch and stored field by field', async () => {
    const analytics = new Analytics({ writeKey: inlet.writeKey, host: inlet.url, flushAt: 6, flushInterval: 500, maxRetries: 0 });
    const requests: { url: string; headers: Record<string, string>; body: string }[] = [];
    const responses: number[] = [];
    analytics.on('http_request', (request) => requests.push({ url: request.url, headers: request.headers as Record<string, string>, body: request.body as unknown as string }));
    analytics.on('http_response', (response) => responses.push(response.status));
    const errors: unknown[] = [];
    analytics.on('error', (error) => errors.push(error));

    const ids = Object.fromEntries(['identify', 'track', 'page', 'screen', 'group', 'alias'].map((type) => [type, `seg-node-${type}-${randomUUID()}`]));
    const happened = new Date(Date.now() - 3 * 60 * 60 * 1000);
    const context = { ip: '203.0.113.9', locale: 'en-GB', app: { name: 'billing', version: '2.1.0' } };
    analytics.identify({ userId: 'user-1', traits: { email: 'ada@example.com', plan: 'pro' }, context, messageId: ids.identify });
    analytics.track({ userId: 'user-1', event: 'Invoice Paid', properties: { amount: 42.5, currency: 'EUR' }, integrations: { Mixpanel: false }, timestamp: happened, messageId: ids.track });
    analytics.page({ anonymousId: 'anon-1', category: 'Docs', name: 'Getting Started', properties: { path: '/docs' }, messageId: ids.page });
    analytics.screen({ userId: 'user-1', name: 'Settings', properties: { tab: 'billing' }, messageId: ids.screen });
    analytics.group({ userId: 'user-1', groupId: 'g-1', traits: { name: 'Acme' }, messageId: ids.group });
    analytics.alias({ userId: 'user-1', previousId: 'anon-1', messageId: ids.alias });
    await analytics.closeAndFlush({ timeout: 10_000 });

    assert.deepEqual(errors, []);
    assert.deepEqual(responses, [200]);
    assert.equal(new URL(requests[0].url).pathname, '/v1/batch');
    assert.match(requests[0].headers['Content-Type'], /^application\/json/);
    assert.equal(requests[0].headers.Authorization, `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}`);
    const body = JSON.parse(requests[0].body) as { batch: Sent[]; sentAt?: string };
    assert.equal(body.batch.length, 6);

    const stored = await inlet.events();
    const server = inlet.server.defaultSource!;
    for (const sent of body.batch) {
      const record = stored.find((r) => r.messageId === sent.messageId);
      assert.ok(record, `${sent.type} ${sent.messageId} stored`);
      assertStoredAsSent(record, sent, { batchSentAt: body.sentAt, sourceId: server.id });
    }
    const track = stored.find((r) => r.messageId === ids.track)!;
    assert.deepEqual(track.properties, { amount: 42.5, currency: 'EUR' });
    assert.deepEqual(track.integrations, { Mixpanel: false });
    assert.equal(track.originalTimestamp, happened.toISOString(), 'the timestamp the caller set is the event time');
    assert.ok(Math.abs(Date.parse(track.timestamp) - happened.getTime()) < 60_000);
    const identify = stored.find((r) => r.messageId === ids.identify)!;
    assert.deepEqual(identify.traits, { email: 'ada@example.com', plan: 'pro' });
    assert.deepEqual(identify.context.app, { name: 'billing', version: '2.1.0' });
    assert.equal(identify.context.ip, '127.0.0.1', 'the default source is a browser source: the connection address, not the claim');
  });

  test('a server source keeps the end user address the back end forwards', async () => {
    const source = await inlet.server.sources.create({ name: `segment-node-${randomUUID()}`, kind: 'server' });
    const analytics = new Analytics({ writeKey: source.writeKey, host: inlet.url, flushAt: 1, maxRetries: 0 });
    const messageId = `seg-node-ip-${randomUUID()}`;
    analytics.track({ userId: 'user-1', event: 'Checkout', context: { ip: '198.51.100.23' }, messageId });
    await analytics.closeAndFlush({ timeout: 10_000 });
    const record = (await inlet.events()).find((r) => r.messageId === messageId);
    assert.equal(record?.context.ip, '198.51.100.23');
    assert.equal(record?.sourceId, source.id);
  });
});
