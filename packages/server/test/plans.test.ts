// Tracking plans on the embedded store: flag and block at the edge, versions, the admin API, replay
// against the current plan, and inference from stored events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { InletEvent, NormalizedRecord } from '@inlet/schema';
import type { FailedView, ReplaySummary } from '../src/failed/failed-store.ts';
import { DatabaseReader } from '../src/db/reader.ts';
import { embeddedSamples } from '../src/plans/event-samples.ts';
import { PlanInference } from '../src/plans/infer.ts';
import type { PlanVersion, StoredPlan } from '../src/plans/plan-store.ts';
import { adminRequest, basic, postJson, request, type RawReply } from './http-client.ts';

let inlet: TestInlet;

before(async () => { inlet = await startInlet(); });
after(() => inlet.close());

/** A new source of the test server: id and write key. */
async function newSource(): Promise<{ id: string; writeKey: string }> {
  const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: `plans-${randomUUID()}` } });
  assert.equal(reply.status, 201, reply.text);
  const source = reply.json!.source as { id: string; writeKey: string };
  return { id: source.id, writeKey: source.writeKey };
}

/** PUT a plan (an object, or JSON text as is). */
function putPlan(sourceId: string, plan: unknown, query = ''): Promise<RawReply> {
  return request(inlet.adminUrl, `/api/sources/${sourceId}/plan${query}`, {
    method: 'PUT',
    body: typeof plan === 'string' ? plan : JSON.stringify(plan),
    headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/json' },
  });
}

async function put(sourceId: string, plan: unknown): Promise<PlanVersion> {
  const reply = await putPlan(sourceId, plan);
  assert.equal(reply.status, 201, reply.text);
  return reply.json!.plan as unknown as PlanVersion;
}

const admin = (path: string, options: { method?: string; body?: unknown } = {}) => adminRequest(inlet.adminUrl, inlet.adminToken, path, options);

/** The stored events of a source with these messageIds, by messageId. */
async function stored(sourceId: string, messageIds: string[]): Promise<Map<string, NormalizedRecord>> {
  const wanted = new Set(messageIds);
  return new Map((await inlet.events()).filter((e) => e.sourceId === sourceId && wanted.has(e.messageId)).map((e) => [e.messageId, e]));
}

async function failedOf(sourceId: string, status = 'failed'): Promise<FailedView[]> {
  const reply = await admin(`/api/failed?source=${sourceId}&status=${status}&limit=1000`);
  assert.equal(reply.status, 200, reply.text);
  return (reply.json as { failed: FailedView[] }).failed;
}

const ORDER_PLAN = {
  unplanned: 'allow',
  violations: 'flag',
  events: {
    'Order Completed': {
      properties: {
        type: 'object',
        required: ['orderId', 'total'],
        properties: { orderId: { type: 'string' }, total: { type: 'number', minimum: 0 } },
      },
    },
    'Signed Up': {},
  },
  identify: { traits: { type: 'object', properties: { email: { type: 'string', format: 'email' } } } },
};

const track = (event: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'track', userId: 'u-1', event, properties, messageId: randomUUID(), ...extra });

describe('a source without a plan', () => {
  test('stores events exactly as before: no context.violations, no context.inlet.plan', async () => {
    const source = await newSource();
    const event = track('order_completed', { total: '12.00' }, { context: { violations: 'the client said so' } });
    const reply = await postJson(inlet.url, '/v1/batch', { batch: [event] }, source.writeKey);
    assert.deepEqual([reply.status, reply.json?.accepted], [200, 1]);
    const record = (await stored(source.id, [event.messageId])).get(event.messageId)!;
    assert.equal(record.context.inlet, undefined);
    assert.equal(record.context.violations, 'the client said so', "the client's context is left alone");
  });
});

describe('flag mode', () => {
  let source: { id: string; writeKey: string };
  let version: number;
  before(async () => {
    source = await newSource();
    version = (await put(source.id, ORDER_PLAN)).version;
  });

  test('an event that breaks its schema is stored with context.violations [{path, message}] and context.inlet.plan {version}', async () => {
    const bad = track('Order Completed', { total: '12.00' });
    const good = track('Order Completed', { orderId: 'o-1', total: 12 });
    const reply = await postJson(inlet.url, '/v1/batch', { batch: [bad, good] }, source.writeKey);
    assert.deepEqual([reply.status, reply.json?.accepted, reply.json?.rejected], [200, 2, 0]);
    const records = await stored(source.id, [bad.messageId, good.messageId]);
    const flagged = records.get(bad.messageId)!;
    assert.deepEqual(flagged.context.inlet, { plan: { version } });
    assert.deepEqual(flagged.context.violations, [
      { path: 'properties.orderId', message: 'is required' },
      { path: 'properties.total', message: 'must be number' },
    ]);
    assert.deepEqual(flagged.properties, { total: '12.00' }, 'the event itself is stored as sent');
    const passed = records.get(good.messageId)!;
    assert.deepEqual(passed.context.inlet, { plan: { version } });
    assert.equal(passed.context.violations, undefined);
  });

  test("a client's own context.violations and context.inlet are replaced by the server's verdict", async () => {
    const event = track('Signed Up', {}, { context: { violations: [{ path: 'x', message: 'forged' }], inlet: { other: 1 } } });
    await postJson(inlet.url, '/v1/batch', { batch: [event] }, source.writeKey);
    const record = (await stored(source.id, [event.messageId])).get(event.messageId)!;
    assert.equal(record.context.violations, undefined);
    assert.deepEqual(record.context.inlet, { plan: { version } });
  });

  test('with unplanned "allow", an unplanned name is stored unflagged', async () => {
    const event = track('order_completed', { total: '12.00' });
    await postJson(inlet.url, '/v1/batch', { batch: [event] }, source.writeKey);
    const record = (await stored(source.id, [event.messageId])).get(event.messageId)!;
    assert.equal(record.context.violations, undefined);
    assert.deepEqual(record.context.inlet, { plan: { version } });
  });

  test('identify traits are checked against the plan', async () => {
    const event = { type: 'identify', userId: 'u-1', traits: { email: 'not an email' }, messageId: randomUUID() };
    await postJson(inlet.url, '/v1/identify', event, source.writeKey);
    const record = (await stored(source.id, [event.messageId])).get(event.messageId)!;
    assert.deepEqual(record.context.violations, [{ path: 'traits.email', message: 'must match format "email"' }]);
  });

  test('with unplanned "flag", an unplanned name is stored with a violation at "event"; planned pages are checked by name', async () => {
    const other = await newSource();
    const v = (await put(other.id, { ...ORDER_PLAN, unplanned: 'flag', pages: { Home: {} } })).version;
    const typo = track('order_completed', { orderId: 'o', total: 1 });
    const page = { type: 'page', userId: 'u', name: 'Pricing', messageId: randomUUID() };
    const home = { type: 'page', userId: 'u', name: 'Home', messageId: randomUUID() };
    const reply = await postJson(inlet.url, '/v1/batch', { batch: [typo, page, home] }, other.writeKey);
    assert.equal(reply.json?.accepted, 3);
    const records = await stored(other.id, [typo.messageId, page.messageId, home.messageId]);
    assert.deepEqual(records.get(typo.messageId)!.context.violations, [{ path: 'event', message: '"order_completed" is not in the tracking plan' }]);
    assert.deepEqual(records.get(page.messageId)!.context.violations, [{ path: 'name', message: '"Pricing" is not in the tracking plan' }]);
    assert.equal(records.get(home.messageId)!.context.violations, undefined);
    assert.deepEqual(records.get(home.messageId)!.context.inlet, { plan: { version: v } });
  });
});

describe('block mode', () => {
  let source: { id: string; writeKey: string };
  let version: number;
  before(async () => {
    source = await newSource();
    version = (await put(source.id, { ...ORDER_PLAN, unplanned: 'block', violations: 'block' })).version;
  });

  test('a violating event goes to the failed events as plan_violation with its violations; the answer counts it rejected with those reasons; the rest is stored', async () => {
    const bad = track('Order Completed', { orderId: 'o-1', total: -5 });
    const typo = track('order_completed', { orderId: 'o-2', total: 5 });
    const good = track('Order Completed', { orderId: 'o-3', total: 5 });
    const reply = await postJson(inlet.url, '/v1/batch', { batch: [bad, typo, good] }, source.writeKey);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, {
      accepted: 1,
      rejected: 2,
      errors: [
        { index: 0, errors: [`tracking plan v${version}: properties.total must be >= 0`] },
        { index: 1, errors: [`tracking plan v${version}: event "order_completed" is not in the tracking plan`] },
      ],
    });
    const records = await stored(source.id, [bad.messageId, typo.messageId, good.messageId]);
    assert.deepEqual([...records.keys()], [good.messageId]);
    const failed = await failedOf(source.id);
    const byMessage = new Map(failed.map((f) => [f.messageId, f]));
    const entry = byMessage.get(bad.messageId)!;
    assert.equal(entry.reason, 'plan_violation');
    assert.deepEqual(entry.errors, (reply.json!.errors as { errors: string[] }[])[0].errors);
    assert.deepEqual(entry.plan, { version, violations: [{ path: 'properties.total', message: 'must be >= 0' }] });
    assert.deepEqual(entry.event, bad);
    assert.equal(byMessage.get(typo.messageId)?.reason, 'plan_violation');

    const stats = await admin(`/api/stats?source=${source.id}`);
    const mine = (stats.json!.sources as { failedByReason: Record<string, number>; stored: number }[])[0];
    assert.equal(mine.failedByReason.plan_violation, 2);
    assert.equal(mine.stored, 1);
  });

  test('a violating event on a single-event route gets 400 INLET_PLAN_VIOLATION and is kept', async () => {
    const bad = track('Order Completed', { orderId: 7, total: 1 });
    const reply = await postJson(inlet.url, '/v1/track', bad, source.writeKey);
    assert.equal(reply.status, 400);
    assert.equal(reply.json?.code, 'INLET_PLAN_VIOLATION');
    assert.match(String(reply.json?.error), /properties\.orderId must be string/);
    assert.ok((await failedOf(source.id)).some((f) => f.messageId === bad.messageId && f.reason === 'plan_violation'));
  });

  test('replay re-checks blocked events against the current plan: they still fail under it, and are stored (flagged) once it changes', async () => {
    const other = await newSource();
    await put(other.id, { ...ORDER_PLAN, violations: 'block' });
    const bad = track('Order Completed', { orderId: 'o-9', total: '12.00' });
    await postJson(inlet.url, '/v1/batch', { batch: [bad] }, other.writeKey);
    const [entry] = await failedOf(other.id);
    assert.equal(entry.reason, 'plan_violation');

    let replay = await admin('/api/failed/replay', { method: 'POST', body: { source: other.id } });
    assert.deepEqual(replay.json as unknown as ReplaySummary, { dryRun: false, matched: 1, passed: 0, stored: 0, duplicates: 0, stillFailing: 1 });

    // Relaxed: total may be a string now, and violations are only flagged.
    const relaxed = structuredClone(ORDER_PLAN);
    relaxed.events['Order Completed'].properties.properties.total = { type: ['number', 'string'] } as never;
    const v = (await put(other.id, { ...relaxed, violations: 'flag' })).version;
    replay = await admin('/api/failed/replay', { method: 'POST', body: { source: other.id } });
    assert.deepEqual(replay.json as unknown as ReplaySummary, { dryRun: false, matched: 1, passed: 1, stored: 1, duplicates: 0, stillFailing: 0 });
    const record = (await stored(other.id, [bad.messageId])).get(bad.messageId)!;
    assert.deepEqual(record.context.inlet, { plan: { version: v }, replayed: entry.id });
    assert.equal(record.context.violations, undefined);
  });

  test("a blocked event that still breaks the new version stays failed, with the new version's reasons", async () => {
    const other = await newSource();
    const first = await put(other.id, { ...ORDER_PLAN, violations: 'block' });
    const bad = track('Order Completed', { orderId: 'o-1', total: -1 });
    await postJson(inlet.url, '/v1/batch', { batch: [bad] }, other.writeKey);
    const [entry] = await failedOf(other.id);
    assert.deepEqual(entry.errors, [`tracking plan v${first.version}: properties.total must be >= 0`]);

    const stricter = structuredClone(ORDER_PLAN);
    stricter.events['Order Completed'].properties.properties.total = { type: 'number', minimum: 10 } as never;
    const second = await put(other.id, { ...stricter, violations: 'block' });
    const replay = await admin(`/api/failed/${entry.id}/replay`, { method: 'POST', body: {} });
    assert.equal((replay.json as unknown as ReplaySummary).stillFailing, 1);
    const [after] = await failedOf(other.id);
    assert.equal(after.id, entry.id);
    assert.equal(after.reason, 'plan_violation');
    assert.deepEqual(after.errors, [`tracking plan v${second.version}: properties.total must be >= 10`]);
    assert.deepEqual(after.plan, { version: second.version, violations: [{ path: 'properties.total', message: 'must be >= 10' }] });
  });
});

describe('versions', () => {
  test('every put makes a new version; history is newest first; an old version can be read; delete is recorded and stops the checks', async () => {
    const source = await newSource();
    const first = await put(source.id, ORDER_PLAN);
    const second = await put(source.id, { ...ORDER_PLAN, violations: 'block' });
    assert.deepEqual([first.version, second.version], [1, 2]);
    assert.deepEqual(second.summary, { unplanned: 'allow', violations: 'block', events: 2, bytes: second.summary!.bytes });

    const current = await admin(`/api/sources/${source.id}/plan`);
    assert.equal((current.json!.plan as StoredPlan).version, 2);
    assert.equal((current.json!.plan as StoredPlan).plan!.violations, 'block');
    const old = await admin(`/api/sources/${source.id}/plan?version=1`);
    assert.equal((old.json!.plan as StoredPlan).plan!.violations, 'flag');

    const deleted = await admin(`/api/sources/${source.id}/plan`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual({ ...(deleted.json!.plan as PlanVersion), createdAt: '' }, { sourceId: source.id, version: 3, createdAt: '', deleted: true });
    assert.equal((await admin(`/api/sources/${source.id}/plan`)).json?.code, 'INLET_PLAN_NOT_FOUND');
    assert.equal((await admin(`/api/sources/${source.id}/plan`, { method: 'DELETE' })).status, 404);

    const history = await admin(`/api/sources/${source.id}/plan/history`);
    assert.deepEqual((history.json!.versions as PlanVersion[]).map((v) => [v.version, v.deleted]), [[3, true], [2, false], [1, false]]);

    // Deleted: events are stored unchecked, as without a plan.
    const event = track('Order Completed', { total: 'x' });
    await postJson(inlet.url, '/v1/batch', { batch: [event] }, source.writeKey);
    assert.equal((await stored(source.id, [event.messageId])).get(event.messageId)!.context.inlet, undefined);
    // Versions go on after a deletion.
    assert.equal((await put(source.id, ORDER_PLAN)).version, 4);
  });
});

describe('the plans admin API', () => {
  test('needs the admin token; an unknown source is 404; a dry run checks without storing', async () => {
    const source = await newSource();
    const noToken = await request(inlet.adminUrl, `/api/sources/${source.id}/plan`, { method: 'PUT', body: JSON.stringify(ORDER_PLAN), headers: { 'content-type': 'application/json' } });
    assert.equal(noToken.status, 401);
    const writeKey = await request(inlet.adminUrl, `/api/sources/${source.id}/plan`, { method: 'GET', headers: { authorization: basic(source.writeKey) } });
    assert.equal(writeKey.status, 401, 'a write key is not the admin token');
    assert.equal((await putPlan('src_nope', ORDER_PLAN)).json?.code, 'INLET_SOURCE_NOT_FOUND');
    assert.equal((await admin('/api/sources/src_nope/plan/history')).status, 404);
    const dry = await putPlan(source.id, ORDER_PLAN, '?dryRun=true');
    assert.equal(dry.status, 200, dry.text);
    assert.equal((dry.json!.summary as { events: number }).events, 2);
    assert.deepEqual((await admin(`/api/sources/${source.id}/plan/history`)).json, { versions: [] });
  });

  test('a plan sent with any Content-Type (curl -T, --data-binary) is read as JSON', async () => {
    const source = await newSource();
    const reply = await request(inlet.adminUrl, `/api/sources/${source.id}/plan`, { method: 'PUT', body: JSON.stringify(ORDER_PLAN), headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(reply.status, 201, reply.text);
  });

  test('typegen answers TypeScript for the current version', async () => {
    const source = await newSource();
    await put(source.id, ORDER_PLAN);
    const reply = await admin(`/api/sources/${source.id}/plan/typegen`);
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    assert.match(reply.text, /export type TrackingPlan = \{/);
    assert.match(reply.text, /"Order Completed": \{\n\s+orderId: string;\n\s+total: number;/);
  });
});

describe('infer', () => {
  test('proposes a plan from stored events: names, property types, required when always present; it passes the events it came from', async () => {
    const source = await newSource();
    const batch = [
      track('Order Completed', { orderId: 'o-1', total: 12, coupon: 'X' }),
      track('Order Completed', { orderId: 'o-2', total: 12.5, items: [{ sku: 'a', qty: 1 }] }),
      track('Product Viewed', { sku: 'a', price: null }),
      { type: 'identify', userId: 'u', traits: { email: 'a@example.com' }, messageId: randomUUID() },
      { type: 'page', userId: 'u', name: 'Home', messageId: randomUUID() },
    ];
    await postJson(inlet.url, '/v1/batch', { batch }, source.writeKey);
    const reply = await admin(`/api/sources/${source.id}/plan/infer?since=1h`);
    assert.equal(reply.status, 200, reply.text);
    const { plan, events, truncated } = reply.json as { plan: Record<string, unknown>; events: number; truncated: boolean };
    assert.equal(events, 5);
    assert.equal(truncated, false);
    assert.deepEqual(plan.events, {
      'Order Completed': {
        properties: {
          type: 'object',
          properties: {
            coupon: { type: 'string' },
            items: { type: 'array', items: { type: 'object', properties: { qty: { type: 'integer' }, sku: { type: 'string' } }, required: ['qty', 'sku'] } },
            orderId: { type: 'string' },
            total: { type: 'number' },
          },
          required: ['orderId', 'total'],
        },
        description: 'inferred from 2 events',
      },
      'Product Viewed': { properties: { type: 'object', properties: { price: { type: 'null' }, sku: { type: 'string' } }, required: ['price', 'sku'] }, description: 'inferred from 1 events' },
    });
    assert.deepEqual(plan.identify, { traits: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] } });
    assert.deepEqual([plan.unplanned, plan.violations], ['flag', 'flag']);

    // The proposal goes in as it is, and the same events pass it.
    const version = (await put(source.id, plan)).version;
    const again = batch.map((e) => ({ ...e, messageId: randomUUID() }));
    await postJson(inlet.url, '/v1/batch', { batch: again }, source.writeKey);
    const records = await stored(source.id, again.map((e) => e.messageId));
    for (const record of records.values()) {
      assert.deepEqual(record.context.inlet, { plan: { version } });
      assert.equal(record.context.violations, undefined, JSON.stringify(record.context.violations));
    }
  });

  test('reading the embedded store is bounded: newest first, at most maxEvents, back to since and no further', async () => {
    const source = await newSource();
    const batch = Array.from({ length: 12 }, (_, i) => track('Numbered', { i }));
    await postJson(inlet.url, '/v1/batch', { batch }, source.writeKey);
    const reader = new DatabaseReader(inlet.dataDir);
    try {
      const samples = embeddedSamples(reader);
      const seen: number[] = [];
      const bounded = await samples(source.id, Date.now() - 3600_000, (e) => seen.push(e.properties!.i as number), { maxEvents: 5 });
      assert.deepEqual([bounded.events, bounded.truncated], [5, true]);
      assert.deepEqual(seen, [11, 10, 9, 8, 7]);
      const all = await samples(source.id, Date.now() - 3600_000, () => {});
      assert.deepEqual([all.events, all.truncated], [12, false]);
      const future = await samples(source.id, Date.now() + 60_000, () => {});
      assert.equal(future.events, 0);
    } finally {
      reader.close();
    }
  });

  test('a proposal for events too wide to describe in full is described less deep, and can be put as it is', async () => {
    const source = await newSource();
    const wide = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`o${i}`, Object.fromEntries(Array.from({ length: 40 }, (_, j) => [`k${j}`, { v: j }]))]));
    const inference = new PlanInference();
    inference.add({ type: 'track', event: 'Wide', userId: 'u', properties: wide, messageId: 'w' } as unknown as InletEvent);
    const { plan } = inference.result();
    const reply = await putPlan(source.id, plan);
    assert.equal(reply.status, 201, reply.text);
    const described = (plan.events.Wide.properties as { properties: Record<string, { properties?: Record<string, unknown> }> }).properties;
    assert.equal(Object.keys(described).length, 25, 'every property is still named');
  });

  test('events received since a moment are all read after a replay stored thousands of older ones behind them', async () => {
    const source = await newSource();
    await put(source.id, { unplanned: 'block', events: {} });
    for (let i = 0; i < 6; i++) {
      const reply = await postJson(inlet.url, '/v1/batch', { batch: Array.from({ length: 1000 }, (_, j) => track('Old', { j })) }, source.writeKey);
      assert.equal(reply.json?.rejected, 1000, 'blocked: kept as failed events');
    }
    await new Promise((r) => setTimeout(r, 20));
    const middle = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    await put(source.id, { unplanned: 'allow', events: {} });
    await postJson(inlet.url, '/v1/batch', { batch: [track('Fresh', { n: 1 }), track('Fresh', { n: 2 })] }, source.writeKey);
    // Stored after the Fresh ones, with the time they first came: 6,000 positions older than `middle`.
    const replayed = await admin('/api/failed/replay', { method: 'POST', body: { source: source.id } });
    assert.equal((replayed.json as unknown as ReplaySummary).stored, 6000, replayed.text);
    const reply = await admin(`/api/sources/${source.id}/plan/infer?since=${new Date(middle).toISOString()}`);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json?.events, 2, reply.text);
    assert.deepEqual(Object.keys((reply.json!.plan as { events: object }).events), ['Fresh']);
  });
});
