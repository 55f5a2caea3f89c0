// The Kafka transport against a real broker: the record must be exactly what the server's Kafka
// sink would write for the same event (key, headers, value).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTopic, needKafka, readAll } from '@inlet/testkit';
import { createAdmin, forceClose, toKafkaRecord } from '@inlet/kafka';
import { normalizeEvent, type InletEvent, type NormalizedRecord } from '@inlet/schema';
import { ServerAnalytics } from '@inlet/node';
import { recorder } from './support/proxy.ts';

const need = await needKafka();

describe('Kafka transport', { skip: need.skip }, () => {
  const brokers = need.value?.split(',') ?? [];
  const topic = `inlet-node-test-${randomUUID()}`;
  const sourceId = 'src_nodeSdkTest1';

  before(async () => {
    await createTopic(brokers, topic, { partitions: 3, replicationFactor: 1 });
  });
  after(async () => {
    const admin = createAdmin({ brokers, clientId: 'inlet-node-test' });
    try { await admin.deleteTopics({ topics: [topic] }); } finally { await forceClose(admin); }
  });

  test('records carry the key, headers and value the server would write', async () => {
    const analytics = new ServerAnalytics({ kafka: { brokers, topic, sourceId }, app: { name: 'orders', version: '3.1.0' } });
    const seen = recorder(analytics);
    const at = new Date(Date.now() - 60_000).toISOString(); // within the server's 24 h sanity bound
    const library = { name: '@inlet/node', version: '0.1.0' };
    const context = { library, app: { name: 'orders', version: '3.1.0' } };
    // What the SDK builds for each call, written out by hand, as a client would POST it.
    const sent: InletEvent[] = [
      { type: 'track', messageId: 'm-track', timestamp: at, context, userId: 'user-1', event: 'order_paid', properties: { amount: 10 } },
      { type: 'track', messageId: 'm-system', timestamp: at, context, anonymousId: 'system', event: 'cron_ran', properties: {} },
      { type: 'identify', messageId: 'm-identify', timestamp: at, context, userId: 'user-2', traits: { plan: 'pro' } },
      { type: 'page', messageId: 'm-page', timestamp: at, context, userId: 'user-1', name: 'Home', properties: {} },
      { type: 'group', messageId: 'm-group', timestamp: at, context: { ...context, ip: '203.0.113.9' }, userId: 'user-3', groupId: 'org-1', traits: {} },
      { type: 'alias', messageId: 'm-alias', timestamp: at, context, userId: 'user-4', previousId: 'anon-4' },
    ];
    analytics.track('user-1', 'order_paid', { amount: 10 }, { messageId: 'm-track', timestamp: at });
    analytics.trackSystem('cron_ran', {}, { messageId: 'm-system', timestamp: at });
    analytics.identify('user-2', { plan: 'pro' }, { messageId: 'm-identify', timestamp: at });
    analytics.page('user-1', 'Home', {}, { messageId: 'm-page', timestamp: at });
    analytics.group('user-3', 'org-1', {}, { messageId: 'm-group', timestamp: at, context: { ip: '203.0.113.9' } });
    analytics.alias('user-4', 'anon-4', { messageId: 'm-alias', timestamp: at });
    analytics.track(undefined, 'no_identity'); // refused at track() time, by the shared validation
    await analytics.shutdown();
    assert.deepEqual(seen.drops.map((d) => d.reason), ['invalid']);
    assert.deepEqual(seen.errors, []);
    assert.equal(analytics.stats().delivered, 6);

    const records = await readAll(brokers, topic);
    assert.equal(records.length, 6);
    for (const event of sent) {
      const got = records.find((r) => r.headers['message-id'] === event.messageId);
      assert.ok(got, `record ${event.messageId}`);
      const value = JSON.parse(got.value) as NormalizedRecord;
      // receivedAt is the one thing that depends on when: take it from the record.
      const expected = normalizeEvent(structuredClone(event), { sourceId, receivedAtMs: Date.parse(value.receivedAt), ipPolicy: 'drop', keepClientIp: true });
      const wire = toKafkaRecord(expected);
      assert.equal(got.key, wire.key);
      assert.deepEqual(got.headers, wire.headers);
      assert.deepEqual(value, JSON.parse(wire.value));
      assert.equal(value.context.ip, undefined, 'no ip under the drop policy');
    }
    const track = JSON.parse(records.find((r) => r.headers['message-id'] === 'm-track')!.value) as NormalizedRecord;
    assert.equal(track.sourceId, sourceId);
    assert.equal(track.timestamp, at);
    assert.deepEqual(records.find((r) => r.headers['message-id'] === 'm-system')!.headers, { 'source-id': sourceId, 'event-type': 'track', 'message-id': 'm-system' });
  });

  test('context.ip follows the IP policy, as the server keeps a server source\'s addresses', async () => {
    for (const [ipPolicy, expected] of [['full', '203.0.113.9'], ['anonymize', '203.0.113.0'], ['drop', undefined]] as const) {
      const analytics = new ServerAnalytics({ kafka: { brokers, topic, sourceId, ipPolicy } });
      const messageId = `m-ip-${ipPolicy}-${randomUUID()}`;
      analytics.track('user-ip', 'with_address', {}, { messageId, context: { ip: '203.0.113.9' } });
      await analytics.shutdown();
      const record = (await readAll(brokers, topic)).find((r) => r.headers['message-id'] === messageId)!;
      assert.equal((JSON.parse(record.value) as NormalizedRecord).context.ip, expected, ipPolicy);
    }
  });

  test('many batches in flight at once all arrive, once each', async () => {
    const analytics = new ServerAnalytics({ kafka: { brokers, topic, sourceId }, maxBatchSize: 50, flushIntervalMs: 5 });
    for (let i = 0; i < 3000; i++) analytics.track(`burst-user`, 'burst', { i }, { messageId: `burst-${i}` });
    await analytics.shutdown();
    const ids = (await readAll(brokers, topic)).map((r) => r.headers['message-id']).filter((id) => id.startsWith('burst-'));
    assert.equal(ids.length, 3000);
    assert.equal(new Set(ids).size, 3000);
  });

  test('events with the same user share a partition (key = userId)', async () => {
    const analytics = new ServerAnalytics({ kafka: { brokers, topic, sourceId }, maxBatchSize: 7 });
    for (let i = 0; i < 40; i++) analytics.track(`user-${i % 4}`, 'keyed', { i });
    await analytics.shutdown();
    const keyed = (await readAll(brokers, topic)).filter((r) => JSON.parse(r.value).event === 'keyed');
    assert.equal(keyed.length, 40);
    for (let u = 0; u < 4; u++) {
      const partitions = new Set(keyed.filter((r) => r.key === `user-${u}`).map((r) => r.partition));
      assert.equal(partitions.size, 1);
    }
    // order within a user is kept
    const user0 = keyed.filter((r) => r.key === 'user-0').map((r) => JSON.parse(r.value).properties.i);
    assert.deepEqual(user0, [...user0].sort((a, b) => a - b));
  });

  test('an unreachable broker is retried, then reported, and shutdown() still returns', async () => {
    const analytics = new ServerAnalytics({ kafka: { brokers: ['127.0.0.1:1'], topic, sourceId, timeoutMs: 500 }, maxRetries: 1, minRetryDelayMs: 10, maxRetryDelayMs: 20 });
    const seen = recorder(analytics);
    analytics.track('u1', 'nowhere');
    await analytics.shutdown({ timeoutMs: 20_000 });
    assert.equal(seen.errors.length, 2);
    assert.deepEqual(seen.drops.map((d) => [d.reason, d.count]), [['retries-exhausted', 1]]);
  });
});
