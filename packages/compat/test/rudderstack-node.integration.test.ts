// @rudderstack/rudder-sdk-node 3.x (RudderStack's Node SDK, from npm), unchanged, with
// `dataPlaneUrl` = Inlet: it posts batches to /v1/batch with Basic auth; by default the body is
// gzip JSON labelled application/x-www-form-urlencoded (axios' label for a Buffer). Every message
// carries originalTimestamp (the call's time) and, when the caller set one, timestamp too. What it
// sent is what its flush callback gets; the labels are read off the outgoing request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import Analytics from '@rudderstack/rudder-sdk-node';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { assertStoredAsSent, type Sent } from './helpers/stored.ts';

const HOUR = 3_600_000;

interface Body { batch: Sent[]; sentAt: string }

/** Content-Type and Content-Encoding of each request to `host`, as Node's http client sent them. */
function watchRequests(host: string): { seen: { path: string; type: string; encoding: string | undefined }[]; stop(): void } {
  const seen: { path: string; type: string; encoding: string | undefined }[] = [];
  const listener = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    if (request.host !== host.split(':')[0] || !request.path.startsWith('/v1/')) return;
    seen.push({ path: request.path, type: String(request.getHeader('content-type')), encoding: request.getHeader('content-encoding') as string | undefined });
  };
  diagnostics.subscribe('http.client.request.start', listener);
  return { seen, stop: () => diagnostics.unsubscribe('http.client.request.start', listener) };
}

describe('@rudderstack/rudder-sdk-node against Inlet', () => {
  let inlet: TestInlet;
  before(async () => { inlet = await startInlet(); });
  after(async () => { await inlet.close(); });

  /**
   * Makes one call of each type, flushes, and returns the batches as they went over the wire (the
   * SDK sends the first call at once, alone, and batches the rest).
   */
  async function deliver(options: { gzip?: boolean }, timestamp?: Date) {
    const client = new Analytics(inlet.writeKey, { dataPlaneUrl: inlet.url, flushAt: 6, flushInterval: 60_000, retryCount: 0, logLevel: 'error', ...options });
    const ids = Object.fromEntries(['identify', 'track', 'page', 'screen', 'group', 'alias'].map((type) => [type, `rs-node-${type}-${randomUUID()}`]));
    const at = timestamp ? { timestamp } : {};
    const context = { locale: 'en-GB', app: { name: 'billing', version: '2.1.0' } };
    const calls: ((cb: (error: unknown, data: unknown) => void) => void)[] = [
      (cb) => client.identify({ userId: 'user-1', traits: { email: 'ada@example.com', plan: 'pro' }, context, messageId: ids.identify, ...at } as never, cb as never),
      (cb) => client.track({ userId: 'user-1', event: 'Invoice Paid', properties: { amount: 42.5, currency: 'EUR' }, integrations: { All: true, Mixpanel: false }, messageId: ids.track, ...at } as never, cb as never),
      (cb) => client.page({ anonymousId: 'anon-1', category: 'Docs', name: 'Getting Started', properties: { path: '/docs' }, messageId: ids.page, ...at } as never, cb as never),
      (cb) => client.screen({ userId: 'user-1', name: 'Settings', properties: { tab: 'billing' }, messageId: ids.screen, ...at } as never, cb as never),
      (cb) => client.group({ userId: 'user-1', groupId: 'g-1', traits: { name: 'Acme' }, messageId: ids.group, ...at } as never, cb as never),
      (cb) => client.alias({ userId: 'user-1', previousId: 'anon-1', messageId: ids.alias, ...at } as never, cb as never),
    ];
    // Each call's callback gets the body its batch went out as: the gzip bytes, or the object
    // axios serialized as JSON.
    const delivered = calls.map((call) => new Promise<{ error: unknown; data: unknown }>((resolve) => call((error, data) => resolve({ error, data }))));
    await client.flush();
    const results = await Promise.all(delivered);
    for (const { error } of results) assert.equal(error, undefined, `delivered without error: ${String(error)}`);
    const bodies = [...new Set(results.map((r) => r.data))].map((data) => JSON.parse(Buffer.isBuffer(data) ? gunzipSync(data).toString('utf8') : JSON.stringify(data)) as Body);
    return { ids, bodies };
  }

  async function expectStored(bodies: Body[]) {
    assert.deepEqual(bodies.flatMap((b) => b.batch.map((e) => e.type)).sort(), ['alias', 'group', 'identify', 'page', 'screen', 'track']);
    const stored = await inlet.events();
    for (const body of bodies) {
      for (const sent of body.batch) {
        const record = stored.find((r) => r.messageId === sent.messageId);
        assert.ok(record, `${sent.type} ${sent.messageId} stored`);
        assertStoredAsSent(record, sent, { batchSentAt: body.sentAt, sourceId: inlet.server.defaultSource!.id });
      }
    }
    return stored;
  }

  test('its default, gzip JSON labelled form-urlencoded: every event type stored field by field', async () => {
    const requests = watchRequests(new URL(inlet.url).host);
    try {
      const { ids, bodies } = await deliver({});
      assert.ok(requests.seen.length >= 1);
      for (const request of requests.seen) assert.deepEqual([request.path, request.type, request.encoding], ['/v1/batch', 'application/x-www-form-urlencoded', 'gzip']);
      const stored = await expectStored(bodies);
      const track = stored.find((r) => r.messageId === ids.track)!;
      assert.deepEqual(track.properties, { amount: 42.5, currency: 'EUR' });
      assert.deepEqual(track.integrations, { All: true, Mixpanel: false });
      assert.equal(track.channel, 'server');
      assert.equal((track.context.library as { name: string }).name, 'analytics-node');
      const identify = stored.find((r) => r.messageId === ids.identify)!;
      assert.deepEqual(identify.traits, { email: 'ada@example.com', plan: 'pro' });
      assert.deepEqual(identify.context.traits, { email: 'ada@example.com', plan: 'pro' }, 'the SDK copies traits into context');
      assert.deepEqual(identify.context.app, { name: 'billing', version: '2.1.0' });
    } finally {
      requests.stop();
    }
  });

  test('gzip off, with a timestamp the caller set: the stored time is that timestamp, not the call time', async () => {
    const requests = watchRequests(new URL(inlet.url).host);
    const happened = new Date(Date.now() - 2 * HOUR);
    try {
      const { ids, bodies } = await deliver({ gzip: false }, happened);
      assert.ok(requests.seen.length >= 1);
      for (const request of requests.seen) assert.deepEqual([request.path, request.type, request.encoding], ['/v1/batch', 'application/json', undefined]);
      const sentTrack = bodies.flatMap((b) => b.batch).find((e) => e.messageId === ids.track)!;
      assert.ok(sentTrack.originalTimestamp && sentTrack.originalTimestamp !== sentTrack.timestamp, 'the SDK sends both, and they disagree');
      const stored = await expectStored(bodies);
      for (const record of stored.filter((r) => Object.values(ids).includes(r.messageId))) {
        assert.equal(record.originalTimestamp, happened.toISOString(), `${record.type}: the caller's timestamp`);
        assert.ok(Math.abs(Date.parse(record.timestamp) - happened.getTime()) < 60_000, `${record.type}: timestamp ${record.timestamp} is the caller's ${happened.toISOString()}`);
      }
    } finally {
      requests.stop();
    }
  });
});
