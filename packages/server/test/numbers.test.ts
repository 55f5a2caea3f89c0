// Numbers a JSON parser cannot hold exactly — an id beyond 2^53, a value that overflows to
// ±Infinity — are refused event by event with a clear error and kept among the failed events
// as sent, never stored changed; the other events of the batch are stored.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { basic, request } from './http-client.ts';
import { inexactNumbers, parseJsonText, UnrepresentableNumber } from '../src/numbers.ts';

let inlet: TestInlet;
before(async () => { inlet = await startInlet(); });
after(() => inlet.close());

const post = (path: string, body: string) => request(inlet.url, path, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });

test('a numeric id beyond 2^53 and 1e400 anywhere get per-event errors; the rest of the batch is stored', async () => {
  const body = '{"batch":['
    + '{"type":"track","userId":9007199254740993,"event":"Big Id","messageId":"n-big"},'
    + '{"type":"track","userId":"u1","event":"Huge","messageId":"n-huge","properties":{"x":1e400,"list":[1,-1E+999]}},'
    + '{"type":"group","userId":"u1","groupId":-12345678901234567890,"messageId":"n-group"},'
    + '{"type":"track","userId":9007199254740991,"event":"Fine","messageId":"n-fine","properties":{"n":12345678901234567890,"small":1e-400,"e":2.5e10}}]}';
  const res = await post('/v1/batch', body);
  assert.equal(res.status, 200, res.text);
  const reply = JSON.parse(res.text) as { accepted: number; rejected: number; errors: { index: number; errors: string[] }[] };
  assert.equal(reply.accepted, 1);
  assert.deepEqual(reply.errors.map((e) => e.index), [0, 1, 2]);
  assert.match(reply.errors[0].errors.join(), /userId .*2\^53.*send ids as strings/);
  assert.match(reply.errors[1].errors.join(' | '), /properties\.x is 1e400.*\| properties\.list\[1\] is -1E\+999/);
  assert.match(reply.errors[2].errors.join(), /groupId/);

  const stored = await inlet.events();
  assert.deepEqual(stored.map((e) => e.messageId), ['n-fine']);
  assert.equal(stored[0].userId, '9007199254740991', 'a safe numeric id is kept (as its digits)');
  assert.equal((stored[0].properties as { e: number }).e, 2.5e10, 'an exponent alone changes nothing');

  const { failed } = await inlet.server.failed.list({}, 10);
  const huge = failed.find((f) => f.messageId === 'n-huge');
  assert.equal(huge?.reason, 'invalid');
  assert.equal((huge?.event as { properties: { x: unknown } }).properties.x, '1e400', 'the failed event keeps what was sent, as text');
  assert.ok(failed.some((f) => f.messageId === 'n-big' && f.reason === 'invalid'));
});

test('an id sent as a fractional number is refused as one, not as a large integer', async () => {
  const res = await post('/v1/track', '{"userId":1.5,"event":"e"}');
  assert.equal(res.status, 400, res.text);
  assert.match(res.text, /userId is 1\.5, not an integer/);
});

test('a single-event route answers 400 with the reason', async () => {
  const res = await post('/v1/track', '{"userId":"u","event":"e","properties":{"v":1e309}}');
  assert.equal(res.status, 400, res.text);
  const reply = JSON.parse(res.text) as { code: string; error: string };
  assert.equal(reply.code, 'INLET_INVALID_EVENT');
  assert.match(reply.error, /properties\.v is 1e309/);
});

test('only a body whose text may overflow is parsed with the reviver', () => {
  const uuid = '{"messageId":"550e8400-e29b-41d4-a716-446655440000","n":1e30,"t":"2024-01-01T00:00:00.000Z"}';
  assert.deepEqual(parseJsonText(uuid), JSON.parse(uuid));
  const parsed = parseJsonText('{"a":[1e400]}') as { a: unknown[] };
  assert.ok(parsed.a[0] instanceof UnrepresentableNumber);
  assert.equal(JSON.stringify(parsed), '{"a":["1e400"]}');
});

test('a 309-digit integer overflows too; digits inside strings or after a decimal point do not count', () => {
  const long = '1'.repeat(400);
  const parsed = parseJsonText(`{"pad":"${'x'.repeat(250)}","n":${long}}`) as { n: unknown };
  assert.ok(parsed.n instanceof UnrepresentableNumber);
  const text = `{"s":"${long}","f":0.${long},"e":"1e400"}`;
  assert.deepEqual(parseJsonText(text), JSON.parse(text));
});

test('a long integer part with a two-digit exponent overflows too', () => {
  const digits = `1${'0'.repeat(250)}`;
  const parsed = parseJsonText(`{"pad":"${'x'.repeat(150)}","n":${digits}e99,"m":-${digits}.5E+60}`) as { n: unknown; m: unknown };
  assert.ok(parsed.n instanceof UnrepresentableNumber);
  assert.ok(parsed.m instanceof UnrepresentableNumber);
  assert.ok((parseJsonText(`[${'9'.repeat(210)}e99]`) as unknown[])[0] instanceof UnrepresentableNumber);
  const [fits] = parseJsonText(`[${'9'.repeat(209)}e99]`) as number[];
  assert.ok(Number.isFinite(fits) && fits > 9.9e307, 'one digit fewer still fits');
});

test('an exponent is found right after a bracket, after a sign and after a fraction', () => {
  for (const source of ['1e400', '-1E+999', '2.5e308']) {
    const parsed = parseJsonText(`[${source}]`) as unknown[];
    assert.ok(parsed[0] instanceof UnrepresentableNumber, source);
    assert.equal(parsed[0].source, source);
  }
  assert.ok(parseJsonText('1e400') instanceof UnrepresentableNumber, 'the whole text one number');
  assert.deepEqual(parseJsonText('{"x":7e-999}'), { x: 0 }, 'an underflow is 0, which a double holds');
});

test('a number that overflows is found however deep the event nests it (within the 256 levels an event may have)', async () => {
  for (const depth of [64, 100, 250]) {
    let value = '1e400';
    for (let i = 0; i < depth; i++) value = `{"a":${value}}`;
    const single = await post('/v1/track', `{"userId":"u","event":"deep","messageId":"deep-${depth}","properties":${value}}`);
    assert.equal(single.status, 400, `depth ${depth}: ${single.text}`);
    assert.match(single.text, /is 1e400/);
    const batch = await post('/v1/batch', `{"batch":[{"type":"track","userId":"u","event":"deep","messageId":"deep-b-${depth}","properties":${value}}]}`);
    assert.equal((JSON.parse(batch.text) as { rejected: number }).rejected, 1, `batch, depth ${depth}: ${batch.text}`);
  }
  const stored = (await inlet.events()).map((e) => e.messageId);
  assert.ok(!stored.some((id) => String(id).startsWith('deep-')), 'none stored (as text or otherwise)');
});

// As the ReDoS test of plans does: inputs a quadratic scan takes minutes on (500 KB of digits took
// 2.6 s before), and a linear one milliseconds; the test's timeout fires if the scan goes back.
test('long runs of digits, dotted or not, are scanned in linear time', { timeout: 30_000 }, () => {
  const bodies = [
    `{"p":"${'1'.repeat(4_000_000)}"}`,
    `{"p":"${`${'1'.repeat(250)}.`.repeat(16_000)}"}`,
    `{"p":"${`${'1'.repeat(210)}.`.repeat(19_000)}"}`,
    `{"p":"${'1e999'.repeat(800_000)}"}`,
  ];
  for (const body of bodies) assert.deepEqual(parseJsonText(body), JSON.parse(body));
  assert.ok(parseJsonText(`[${'1'.repeat(250)}.5e99]`) instanceof Array, 'a real number with one dot is still found');
  assert.ok((parseJsonText(`[${'1'.repeat(250)}.5e99]`) as unknown[])[0] instanceof UnrepresentableNumber);
});

test("an overflow's message quotes the client's key path and digits shortened: a long key does not make the answer many times the body", () => {
  const key = 'k'.repeat(180_000);
  const body = parseJsonText(`{"batch":[{"type":"track","event":"x","anonymousId":"a","properties":{"${key}":[1e400,1e400,1e400,1e400,1e400]}}]}`) as { batch: unknown[] };
  const found = inexactNumbers(body, body.batch[0]);
  assert.equal(found?.errors.length, 5);
  for (const error of found!.errors) {
    assert.ok(error.length < 400, `${error.length} characters`);
    assert.match(error, /^properties\.k{89}… is 1e400, beyond what a JSON number can hold/, "the path cut at 100 characters");
  }
});
