// Plans that must be refused with the reason, and plans that are fine but meet hostile events: a
// catastrophic pattern, an event called "__proto__". Nothing here may crash, hang or fetch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { InletEvent } from '@inlet/schema';
import { CompiledPlan } from '../src/plans/compiled-plan.ts';
import { adminRequest, postJson, request, type RawReply } from './http-client.ts';

let inlet: TestInlet;
let source: { id: string; writeKey: string };

before(async () => {
  inlet = await startInlet();
  const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'bad-input' } });
  source = reply.json!.source as { id: string; writeKey: string };
});
after(() => inlet.close());

function putPlan(plan: unknown): Promise<RawReply> {
  return request(inlet.adminUrl, `/api/sources/${source.id}/plan`, {
    method: 'PUT',
    body: typeof plan === 'string' ? plan : JSON.stringify(plan),
    headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/json' },
  });
}

async function refused(plan: unknown, status: number, code: string, reason: RegExp): Promise<void> {
  const reply = await putPlan(plan);
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.json?.code, code);
  assert.match(String(reply.json?.error), reason);
}

const withSchema = (properties: unknown) => ({ events: { 'Order Completed': { properties } } });

async function versions(): Promise<number> {
  const reply = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}/plan/history`);
  return (reply.json!.versions as unknown[]).length;
}

describe('plans refused at put, with the reason', () => {
  test('a schema that does not compile names the event and what is wrong', async () => {
    await refused(withSchema({ type: 'strin' }), 400, 'INLET_INVALID_PLAN', /events\["Order Completed"\]\.properties: .*type/);
    await refused(withSchema({ type: 'object', requird: ['x'] }), 400, 'INLET_INVALID_PLAN', /unknown keyword: "requird"/);
    await refused(withSchema({ type: 'string', format: 'not-a-format' }), 400, 'INLET_INVALID_PLAN', /unknown format "not-a-format"/);
    await refused(withSchema(42), 400, 'INLET_INVALID_PLAN', /must be a JSON Schema/);
  });

  test('a plan that is not a plan: not JSON, an unknown field, a wrong mode, an empty name, an empty body', async () => {
    await refused('{"events": {', 400, 'INLET_INVALID_PLAN', /not JSON/);
    await refused({ events: {}, unplaned: 'block' }, 400, 'INLET_INVALID_PLAN', /unknown field "unplaned"/);
    await refused({ events: {}, violations: 'drop' }, 400, 'INLET_INVALID_PLAN', /violations must be one of flag, block, got "drop"/);
    await refused({ events: { '': {} } }, 400, 'INLET_INVALID_PLAN', /name must not be empty/);
    await refused({ events: [] }, 400, 'INLET_INVALID_PLAN', /events must be an object of names/);
    await refused('', 400, 'INLET_INVALID_PLAN', /body is empty/);
    await refused('[1]', 400, 'INLET_INVALID_PLAN', /must be a JSON object/);
  });

  test('10,000 events: refused, the limit is 2,000', async () => {
    const events = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`Event ${i}`, {}]));
    await refused({ events }, 400, 'INLET_INVALID_PLAN', /names 10000 events, pages and screens; the limit is 2000/);
  });

  test('2,000 events with schemas are accepted (compiled at put without stalling ingestion)', async () => {
    const events = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`Event ${i}`, { properties: { type: 'object', required: ['id'], properties: { id: { type: 'string' }, n: { type: 'integer', minimum: i } } } }]));
    const put = putPlan({ events, violations: 'flag' });
    // Ingestion goes on while the plan compiles (it yields to the event loop).
    const during = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'during the put' }, source.writeKey);
    assert.equal(during.status, 200);
    const reply = await put;
    assert.equal(reply.status, 201, reply.text);
    const event = { userId: 'u', event: 'Event 1999', properties: { id: 'x', n: 1 }, messageId: randomUUID() };
    assert.equal((await postJson(inlet.url, '/v1/track', event, source.writeKey)).status, 200);
    const record = (await inlet.events()).find((e) => e.messageId === event.messageId)!;
    assert.deepEqual(record.context.violations, [{ path: 'properties.n', message: 'must be >= 1999' }]);
    await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${source.id}/plan`, { method: 'DELETE' });
  });

  test('a 2 MB plan: 413, the limit is 1 MiB', async () => {
    const plan = { events: { Big: { description: 'x'.repeat(2 * 1024 * 1024) } } };
    await refused(plan, 413, 'INLET_PLAN_TOO_LARGE', /the plan is \d+ bytes; the limit is 1048576/);
    const huge = { events: { Big: { description: 'x'.repeat(5 * 1024 * 1024) } } };
    const reply = await putPlan(huge);
    assert.equal(reply.status, 413, 'far over the limit: cut off while reading');
  });

  test('a $ref to a remote URL is refused and nothing is fetched', async () => {
    let fetched = 0;
    const server = http.createServer((_req, res) => { fetched++; res.end('{"type":"string"}'); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/schema.json`;
    try {
      await refused(withSchema({ type: 'object', properties: { orderId: { $ref: url } } }), 400, 'INLET_INVALID_PLAN', /\$ref "http:\/\/127\.0\.0\.1:\d+\/schema\.json" is outside the plan; a plan must be self-contained \(Inlet never fetches/);
      await refused(withSchema({ $ref: 'https://schemas.example.com/order.json#/$defs/total' }), 400, 'INLET_INVALID_PLAN', /\$ref "https:\/\/schemas\.example\.com\/order\.json#\/\$defs\/total" is outside the plan/);
      await refused(withSchema({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' }), 400, 'INLET_INVALID_PLAN', /draft-07/);
    } finally {
      server.close();
    }
    assert.equal(fetched, 0);
    // A $ref within the schema is fine.
    const local = await putPlan(withSchema({ $defs: { money: { type: 'number', minimum: 0 } }, type: 'object', properties: { total: { $ref: '#/$defs/money' } } }));
    assert.equal(local.status, 201, local.text);
  });

  test('patterns RE2 cannot run in linear time (lookarounds, backreferences) are refused with the reason', async () => {
    await refused(withSchema({ type: 'string', pattern: '^(?=a)a+$' }), 400, 'INLET_INVALID_PLAN', /pattern "\^\(\?=a\)a\+\$" cannot be used: .*lookarounds and backreferences are not supported/);
    await refused(withSchema({ type: 'string', pattern: '(a)\\1' }), 400, 'INLET_INVALID_PLAN', /cannot be used/);
  });

  test('uniqueItems over untyped items without a small maxItems is refused (it compares every pair)', async () => {
    await refused(withSchema({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } }), 400, 'INLET_INVALID_PLAN', /uniqueItems .* needs "maxItems" of at most 100/);
    const ok = await putPlan(withSchema({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true, items: { type: 'string' } }, pairs: { type: 'array', uniqueItems: true, maxItems: 50 } } }));
    assert.equal(ok.status, 201, ok.text);
  });

  test('a schema that leads back to itself without going into a property or an item is refused: checking would never end', async () => {
    const loop = { $defs: { a: { anyOf: [{ $ref: '#/$defs/a' }] } }, $ref: '#/$defs/a' };
    await refused(withSchema(loop), 400, 'INLET_INVALID_PLAN', /subschema at "\/\$defs\/a" leads back to itself .* would never end/);
    await refused(withSchema({ type: 'object', allOf: [{ $ref: '#' }] }), 400, 'INLET_INVALID_PLAN', /leads back to itself/);
    await refused(withSchema({ $defs: { x: { $anchor: 'x', not: { $ref: '#x' } } }, $ref: '#x' }), 400, 'INLET_INVALID_PLAN', /leads back to itself/);
    // Names that are keywords elsewhere ("default", "enum") are schemas where they name a $def or a property.
    await refused(withSchema({ $defs: { default: { anyOf: [{ $ref: '#/$defs/default' }] } }, $ref: '#/$defs/default' }), 400, 'INLET_INVALID_PLAN', /"\/\$defs\/default" leads back to itself/);
    await refused(withSchema({ type: 'object', properties: { enum: { $defs: { a: { anyOf: [{ $ref: '#/properties/enum/$defs/a' }] } }, $ref: '#/properties/enum/$defs/a' } } }), 400, 'INLET_INVALID_PLAN', /leads back to itself/);
    await refused(withSchema({ type: 'object', properties: { enum: { type: 'array', uniqueItems: true } } }), 400, 'INLET_INVALID_PLAN', /uniqueItems/);
    // What the loop check could not follow is refused: a reference by $id, an $id below the root.
    await refused(withSchema({ $id: 'https://e.example/s', $defs: { a: { anyOf: [{ $ref: 'https://e.example/s#/$defs/a' }] } }, $ref: '#/$defs/a' }), 400, 'INLET_INVALID_PLAN', /is outside the plan/);
    await refused(withSchema({ $id: 'https://e.example/s', $defs: { a: { $ref: 's#/$defs/a' } } }), 400, 'INLET_INVALID_PLAN', /must point within the schema, as a '#' fragment/);
    await refused(withSchema({ type: 'object', properties: { x: { $id: 'https://e.example/x', anyOf: [{ $ref: '#' }] } } }), 400, 'INLET_INVALID_PLAN', /\$id is only allowed at the top/);
    await refused(withSchema({ $defs: { a: { dependencies: { x: { $ref: '#/$defs/a' } } } }, $ref: '#/$defs/a' }), 400, 'INLET_INVALID_PLAN', /leads back to itself/);
    await refused(withSchema({ dependencies: { x: { $dynamicRef: '#x' } } }), 400, 'INLET_INVALID_PLAN', /\$dynamicRef is not supported/);
    await refused(withSchema({ $dynamicRef: '#meta' }), 400, 'INLET_INVALID_PLAN', /\$dynamicRef is not supported/);
    await refused(withSchema({ $dynamicAnchor: 'x', $dynamicRef: '#x' }), 400, 'INLET_INVALID_PLAN', /is not supported in a tracking plan/);
  });

  test('a schema nested too deep or too large is refused with the reason (it would stall or overflow the server)', async () => {
    // As text: a JSON.stringify this deep runs out of stack here too.
    const deep = `${'{"type":"object","properties":{"a":'.repeat(3000)}{"type":"string"}${'}}'.repeat(3000)}`;
    await refused(`{"events":{"A":{"properties":${deep}}}}`, 400, 'INLET_INVALID_PLAN', /nested deeper than 100 levels/);
    const arrays = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
    await refused(`{"events":{"A":{"properties":{"enum":[${arrays}]}}}}`, 400, 'INLET_INVALID_PLAN', /nested deeper than 100 levels/);
    const wide = Object.fromEntries(Array.from({ length: 25_000 }, (_, i) => [`p${i}`, { type: 'string' }]));
    await refused(withSchema({ type: 'object', properties: wide }), 400, 'INLET_INVALID_PLAN', /holds more than 1000 objects/);
    await refused(withSchema({ anyOf: Array.from({ length: 9000 }, (_, i) => ({ const: i })) }), 400, 'INLET_INVALID_PLAN', /holds more than 1000 objects/);
  });

  test('a gzip plan is refused with 415 saying to send it as it is, not as "not JSON" with its bytes', async () => {
    const { gzipSync } = await import('node:zlib');
    const reply = await request(inlet.adminUrl, `/api/sources/${source.id}/plan`, {
      method: 'PUT',
      body: gzipSync(JSON.stringify(withSchema({ type: 'object' }))),
      headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    assert.equal(reply.status, 415, reply.text);
    assert.equal(reply.json?.code, 'INLET_UNSUPPORTED_ENCODING');
    assert.match(String(reply.json?.error), /without Content-Encoding \(it said gzip\)/);
  });

  test('nothing refused was stored', async () => {
    // Stored above: the 2,000-event plan and its deletion, the local $ref, the uniqueItems plan.
    assert.equal(await versions(), 4);
  });
});

describe('recursive schemas', () => {
  test('recursion through properties, to the root ("#") or through $defs, is accepted and checks every level', async () => {
    const other = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'tree' } })).json!.source as { id: string; writeKey: string };
    const plan = {
      violations: 'flag',
      events: {
        Tree: { properties: { type: 'object', properties: { label: { type: 'string' }, child: { $ref: '#' } } } },
        List: { properties: { $defs: { node: { type: 'object', properties: { n: { type: 'integer' }, next: { $ref: '#/$defs/node' } } } }, $ref: '#/$defs/node' } },
      },
    };
    const put = await request(inlet.adminUrl, `/api/sources/${other.id}/plan`, { method: 'PUT', body: JSON.stringify(plan), headers: { authorization: `Bearer ${inlet.adminToken}` } });
    assert.equal(put.status, 201, put.text);
    const event = (name: string, properties: unknown) => ({ type: 'track', userId: 'u', event: name, properties, messageId: randomUUID() });
    const batch = [event('Tree', { label: 'a', child: { label: 'b', child: { label: 3 } } }), event('List', { n: 1, next: { n: 2, next: { n: 'x' } } }), event('Tree', { label: 'ok' })];
    const reply = await postJson(inlet.url, '/v1/batch', { batch }, other.writeKey);
    assert.equal(reply.json?.accepted, 3, reply.text);
    const records = new Map((await inlet.events()).map((e) => [e.messageId, e]));
    assert.deepEqual(records.get(batch[0].messageId)!.context.violations, [{ path: 'properties.child.child.label', message: 'must be string' }]);
    assert.deepEqual(records.get(batch[1].messageId)!.context.violations, [{ path: 'properties.next.next.n', message: 'must be integer' }]);
    assert.equal(records.get(batch[2].messageId)!.context.violations, undefined);
  });

  test('a stored schema that fails as it checks (put before loops were refused) breaks the plan for its events, saying why; nothing throws', () => {
    const loop = { $defs: { a: { anyOf: [{ $ref: '#/$defs/a' }] } }, $ref: '#/$defs/a' };
    const failures: string[] = [];
    const plan = new CompiledPlan('src_x', 3, { unplanned: 'allow', violations: 'block', events: { Loop: { properties: loop }, Fine: { properties: { type: 'object' } } } }, 0, { onCheckError: (where) => failures.push(where) });
    const event = (name: string) => ({ type: 'track', userId: 'u', event: name, properties: {}, messageId: 'm' }) as unknown as InletEvent;
    for (let i = 0; i < 2; i++) {
      const verdict = plan.check(event('Loop'));
      assert.equal(verdict?.block, true);
      assert.match(verdict!.violations[0].message, /could not be checked: the plan's schema for it fails .*fix the plan, then replay/);
    }
    assert.deepEqual(failures, ['events["Loop"]'], 'told once; later events do not recurse again');
    assert.equal(plan.check(event('Fine')), undefined);
  });
});

describe('hostile events against a fine plan', () => {
  test('a catastrophically backtracking pattern runs in linear time: 14,000-character values are checked, not stalled on', async () => {
    const other = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'redos' } })).json!.source as { id: string; writeKey: string };
    const plan = { violations: 'flag', events: { Search: { properties: { type: 'object', properties: { q: { type: 'string', pattern: '^(a+)+$' }, r: { type: 'string', pattern: '^(a|aa)+$' } } } } } };
    const put = await request(inlet.adminUrl, `/api/sources/${other.id}/plan`, { method: 'PUT', body: JSON.stringify(plan), headers: { authorization: `Bearer ${inlet.adminToken}` } });
    assert.equal(put.status, 201, put.text);
    // A backtracking engine takes minutes on 30 characters of this; the test's timeout would fire.
    // (Two of them stay under the 32 KB event limit.)
    const evil = `${'a'.repeat(14_000)}!`;
    const events = Array.from({ length: 10 }, () => ({ type: 'track', userId: 'u', event: 'Search', properties: { q: evil, r: evil }, messageId: randomUUID() }));
    const reply = await postJson(inlet.url, '/v1/batch', { batch: events }, other.writeKey);
    assert.deepEqual([reply.status, reply.json?.accepted], [200, 10], reply.text);
    const good = { type: 'track', userId: 'u', event: 'Search', properties: { q: 'aaaa', r: 'aaa' }, messageId: randomUUID() };
    await postJson(inlet.url, '/v1/batch', { batch: [good] }, other.writeKey);
    const records = new Map((await inlet.events()).map((e) => [e.messageId, e]));
    assert.deepEqual(records.get(events[0].messageId)!.context.violations, [
      { path: 'properties.q', message: 'must match pattern "^(a+)+$"' },
      { path: 'properties.r', message: 'must match pattern "^(a|aa)+$"' },
    ]);
    assert.equal(records.get(good.messageId)!.context.violations, undefined);
  });

  // ajv-formats' url regex, which formats ran on, is quadratic: these ten values took 8 s, during
  // which the server answered nothing (the test's timeout fires if it goes back).
  test('the url format is checked in linear time, as a browser reads a URL: 30 KB values that are not URLs are flagged, not stalled on; localhost is a URL', { timeout: 5_000 }, async () => {
    const other = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'url-format' } })).json!.source as { id: string; writeKey: string };
    const plan = { violations: 'flag', events: { 'Link Clicked': { properties: { type: 'object', properties: { href: { type: 'string', format: 'url' } } } } } };
    const put = await request(inlet.adminUrl, `/api/sources/${other.id}/plan`, { method: 'PUT', body: JSON.stringify(plan), headers: { authorization: `Bearer ${inlet.adminToken}` } });
    assert.equal(put.status, 201, put.text);
    const clicked = (href: string) => ({ type: 'track', userId: 'u', event: 'Link Clicked', properties: { href }, messageId: randomUUID() });
    // A host past DNS's limits is no URL: the parser's conversion of it to ASCII is quadratic.
    const longLabel = Array.from({ length: 4000 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    const evil = [...Array.from({ length: 10 }, () => clicked(`http://${'a:'.repeat(15_000)}!`)), clicked(`http://${longLabel}.com/`)];
    const urls = ['https://user:pass@example.com:8080/a@b?q=1', 'http://10.0.0.1/', 'ftp://ftp.example.org', 'http://localhost:8080/', 'https://例子.测试/'].map(clicked);
    const notUrls = ['http://a b@example.com', 'https://example.com/a b', 'https://example.com/a\u0001', 'example.com', 'http:/example.com', 'mailto:a@example.com', 'http://:80/'].map(clicked);
    const reply = await postJson(inlet.url, '/v1/batch', { batch: [...evil, ...urls, ...notUrls] }, other.writeKey);
    assert.deepEqual([reply.status, reply.json?.accepted], [200, 23], reply.text);
    const records = new Map((await inlet.events()).map((e) => [e.messageId, e]));
    for (const event of [...evil, ...notUrls]) {
      assert.deepEqual(records.get(event.messageId)!.context.violations, [{ path: 'properties.href', message: 'must match format "url"' }], event.properties.href.slice(0, 40));
    }
    for (const event of urls) assert.equal(records.get(event.messageId)!.context.violations, undefined, event.properties.href);
  });

  test('an event named "__proto__" is planned like any name; "constructor" and "toString" are not planned by inheritance', async () => {
    const other = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/api/sources', { method: 'POST', body: { name: 'proto' } })).json!.source as { id: string; writeKey: string };
    // JSON text: a JavaScript literal {"__proto__": ...} would set a prototype instead.
    const text = '{"unplanned": "flag", "events": {"__proto__": {"properties": {"type": "object", "required": ["polluted"]}}}}';
    const put = await request(inlet.adminUrl, `/api/sources/${other.id}/plan`, { method: 'PUT', body: text, headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/json' } });
    assert.equal(put.status, 201, put.text);
    const got = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${other.id}/plan`);
    assert.ok(got.text.includes('"__proto__":{"properties"'), got.text);

    const named = (event: string) => ({ type: 'track', userId: 'u', event, properties: {}, messageId: randomUUID() });
    const batch = [named('__proto__'), named('constructor'), named('toString'), named('hasOwnProperty')];
    const reply = await postJson(inlet.url, '/v1/batch', { batch }, other.writeKey);
    assert.equal(reply.json?.accepted, 4);
    const records = new Map((await inlet.events()).map((e) => [e.messageId, e]));
    assert.deepEqual(records.get(batch[0].messageId)!.context.violations, [{ path: 'properties.polluted', message: 'is required' }]);
    for (const event of batch.slice(1)) {
      assert.deepEqual(records.get(event.messageId)!.context.violations, [{ path: 'event', message: `"${event.event}" is not in the tracking plan` }]);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched');
    assert.equal(Object.getPrototypeOf({}), Object.prototype);

    const typescript = await adminRequest(inlet.adminUrl, inlet.adminToken, `/api/sources/${other.id}/plan/typegen`);
    assert.match(typescript.text, /"__proto__": \{/);
  });
});
