// Tracking plans on the Kafka sink: flagged events on raw-events carry their violations, blocked
// ones go to the failed-events topic as plan_violation, a replay re-checks them against the plan
// now, and `plans infer` reads the source's events from raw-events (bounded).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTopic, needKafka, readAll, startInlet, type TestInlet } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import type { FailedEvent } from '../src/failed/failed-event.ts';
import type { ReplaySummary } from '../src/failed/failed-store.ts';
import { kafkaSamples } from '../src/plans/event-samples.ts';
import { adminRequest, postJson, request } from './http-client.ts';

const need = await needKafka();

describe('tracking plans on the Kafka sink', { skip: need.skip }, () => {
  const brokers = (need.value ?? '').split(',');
  const topic = `plans-test-raw-${randomUUID()}`;
  const failedTopic = `plans-test-failed-${randomUUID()}`;
  let inlet: TestInlet;
  let sourceId: string;

  before(async () => {
    await createTopic(brokers, topic, { partitions: 2, replicationFactor: 1 });
    await createTopic(brokers, failedTopic, { partitions: 2, replicationFactor: 1 });
    inlet = await startInlet({ kafka: { brokers, topic, failedTopic, clientId: 'plans-test', lingerMs: 0, compression: 'lz4' } });
    sourceId = inlet.server.defaultSource!.id;
  });
  after(() => inlet?.close());

  const putPlan = (plan: unknown) => request(inlet.adminUrl, `/api/sources/${sourceId}/plan`, { method: 'PUT', body: JSON.stringify(plan), headers: { authorization: `Bearer ${inlet.adminToken}` } });
  const schema = (total: unknown) => ({ type: 'object', required: ['orderId'], properties: { orderId: { type: 'string' }, total } });

  test('flagged events reach raw-events with context.violations; blocked ones the failed-events topic; a replay under a relaxed plan stores them', async () => {
    assert.equal((await putPlan({ violations: 'flag', events: { 'Order Completed': { properties: schema({ type: 'number' }) } } })).status, 201);
    const flagged = { type: 'track', userId: 'u', event: 'Order Completed', properties: { orderId: 'o-1', total: '1' }, messageId: randomUUID() };
    assert.equal((await postJson(inlet.url, '/v1/batch', { batch: [flagged] }, inlet.writeKey)).json?.accepted, 1);

    assert.equal((await putPlan({ violations: 'block', events: { 'Order Completed': { properties: schema({ type: 'number' }) } } })).status, 201);
    const blocked = { ...flagged, messageId: randomUUID() };
    const reply = await postJson(inlet.url, '/v1/batch', { batch: [blocked] }, inlet.writeKey);
    assert.deepEqual([reply.json?.accepted, reply.json?.rejected], [0, 1]);

    const raw = (await readAll(brokers, topic)).map((r) => JSON.parse(r.value) as NormalizedRecord);
    const stored = raw.find((r) => r.messageId === flagged.messageId)!;
    assert.deepEqual(stored.context.violations, [{ path: 'properties.total', message: 'must be number' }]);
    assert.deepEqual(stored.context.inlet, { plan: { version: 1 } });
    assert.ok(!raw.some((r) => r.messageId === blocked.messageId));
    const failed = (await readAll(brokers, failedTopic)).map((r) => ({ headers: r.headers, entry: JSON.parse(r.value) as FailedEvent }));
    const entry = failed.find((f) => f.entry.messageId === blocked.messageId)!;
    assert.equal(entry.headers.reason, 'plan_violation');
    assert.deepEqual(entry.entry.plan, { version: 2, violations: [{ path: 'properties.total', message: 'must be number' }] });

    let replay = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed/replay', { method: 'POST', body: { source: sourceId } });
    assert.equal((replay.json as unknown as ReplaySummary).stillFailing, 1, replay.text);
    assert.equal((await putPlan({ violations: 'block', events: { 'Order Completed': { properties: schema({ type: ['number', 'string'] }) } } })).status, 201);
    replay = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/failed/replay', { method: 'POST', body: { source: sourceId } });
    assert.deepEqual(replay.json as unknown as ReplaySummary, { dryRun: false, matched: 1, passed: 1, stored: 1, duplicates: 0, stillFailing: 0 });
    const replayed = (await readAll(brokers, topic)).map((r) => JSON.parse(r.value) as NormalizedRecord).find((r) => r.messageId === blocked.messageId)!;
    assert.deepEqual(replayed.context.inlet, { plan: { version: 3 }, replayed: entry.entry.id });

    // Written to raw-events just now, it was received before: events "since" a moment after that leave it out.
    const seen: string[] = [];
    await kafkaSamples({ brokers, clientId: 'plans-test', topic })(sourceId, Date.parse(replayed.receivedAt) + 1, (e) => { seen.push(e.messageId!); });
    assert.ok(!seen.includes(blocked.messageId), 'a replayed event counts from when it first came, as on the embedded store');
  });

  test('infer reads the source\'s events from raw-events since --since, and stops at its bounds', async () => {
    const batch = Array.from({ length: 30 }, (_, i) => ({ type: 'track', userId: 'u', event: 'Cart Viewed', properties: { items: i }, messageId: randomUUID() }));
    assert.equal((await postJson(inlet.url, '/v1/batch', { batch }, inlet.writeKey)).json?.accepted, 30);
    const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${sourceId}/plan/infer?since=1h`);
    assert.equal(reply.status, 200, reply.text);
    const body = reply.json as { plan: { events: Record<string, { properties: unknown }> }; events: number; truncated: boolean };
    assert.equal(body.truncated, false);
    assert.ok(body.events >= 31, String(body.events));
    assert.deepEqual(body.plan.events['Cart Viewed'].properties, { type: 'object', properties: { items: { type: 'integer' } }, required: ['items'] });
    assert.ok(body.plan.events['Order Completed']);

    // Bounded: at most maxEvents of the source are read, and the read stops there.
    const samples = kafkaSamples({ brokers, clientId: 'plans-test', topic });
    let seen = 0;
    const bounded = await samples(sourceId, Date.now() - 3600_000, () => { seen++; }, { maxEvents: 5 });
    assert.deepEqual([seen, bounded.events, bounded.truncated], [5, 5, true]);
    // Another source's events are not this one's.
    const none = await samples('src_other', Date.now() - 3600_000, () => { seen++; });
    assert.deepEqual([none.events, none.truncated], [0, false]);
    assert.ok(none.scanned >= 32);
  });
});
