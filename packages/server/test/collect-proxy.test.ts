// What the server does with the headers of a first-party collect proxy (@inlet/node's
// inletCollect): the signed end-user address, believed only with INLET_PROXY_SECRET, and the
// device id that fills a missing anonymousId. Requests come straight from this test, so the peer
// address is 127.0.0.1 and anything else stored came from a header.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CLIENT_IP_HEADER, DEVICE_ID_HEADER, signClientIp, type NormalizedRecord } from '@inlet/schema';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { InvalidSettingError, loadConfig } from '../src/config.ts';
import { basic, request } from './http-client.ts';

const SECRET = 'server-test-secret-0123456789';
const DEVICE = '0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b';

function send(inlet: TestInlet, tag: string, headers: Record<string, string>, event: Record<string, unknown> = {}) {
  return request(inlet.url, '/v1/batch', {
    body: JSON.stringify({ batch: [{ type: 'track', event: 'Proxied', properties: { tag }, ...event }] }),
    headers: { 'content-type': 'text/plain', authorization: basic(inlet.writeKey), ...headers },
  });
}

async function stored(inlet: TestInlet, tag: string): Promise<NormalizedRecord> {
  const found = (await inlet.events()).filter((e) => e.properties?.tag === tag);
  assert.equal(found.length, 1, `one event tagged ${tag}`);
  return found[0];
}

describe('a collect proxy\'s headers', () => {
  let inlet: TestInlet;
  let plain: TestInlet;
  const logLines: string[] = [];
  before(async () => {
    const logs = new Writable({ write(chunk, _encoding, done) { logLines.push(String(chunk)); done(); } });
    inlet = await startInlet({ proxySecret: SECRET, logLevel: 'warn' }, { logger: pino({ level: 'warn' }, logs) });
    plain = await startInlet();
  });
  after(async () => {
    await inlet.close();
    await plain.close();
  });

  test('a signed address is stored as the client\'s', async () => {
    const reply = await send(inlet, 'signed', { 'user-agent': 'x', 'x-anonymous': '1', [CLIENT_IP_HEADER]: signClientIp(SECRET, '203.0.113.7') }, { anonymousId: 'a' });
    assert.equal(reply.status, 200, reply.text);
    assert.equal((await stored(inlet, 'signed')).context?.ip, '203.0.113.7');
  });

  test('forged, expired or foreign signatures are not believed: the peer address is stored, and one warning without the address is logged', async () => {
    const attempts: Record<string, string> = {
      forged: '198.51.100.1; t=1772366400; sig=' + 'A'.repeat(43),
      expired: signClientIp(SECRET, '198.51.100.2', Date.now() - 10 * 60_000),
      foreign: signClientIp('some-other-secret-entirely', '198.51.100.3'),
      garbage: 'hello',
    };
    for (const [tag, header] of Object.entries(attempts)) {
      assert.equal((await send(inlet, tag, { [CLIENT_IP_HEADER]: header }, { anonymousId: 'a' })).status, 200);
      assert.equal((await stored(inlet, tag)).context?.ip, '127.0.0.1', tag);
    }
    const warnings = logLines.filter((l) => l.includes(CLIENT_IP_HEADER));
    assert.equal(warnings.length, 1, 'at most one warning a minute');
    assert.doesNotMatch(warnings[0], /198\.51\.100/, 'the claimed address is not logged');
  });

  test('without INLET_PROXY_SECRET the header means nothing', async () => {
    await send(plain, 'no-secret', { [CLIENT_IP_HEADER]: signClientIp(SECRET, '203.0.113.7') }, { anonymousId: 'a' });
    assert.equal((await stored(plain, 'no-secret')).context?.ip, '127.0.0.1');
  });

  test('the device id becomes the anonymousId of an event without one, and only then', async () => {
    assert.equal((await send(plain, 'device-fills', { [DEVICE_ID_HEADER]: DEVICE })).status, 200);
    assert.equal((await stored(plain, 'device-fills')).anonymousId, DEVICE);
    assert.equal((await send(plain, 'device-fills-empty', { [DEVICE_ID_HEADER]: DEVICE }, { anonymousId: '' })).status, 200, 'an empty anonymousId is none');
    assert.equal((await stored(plain, 'device-fills-empty')).anonymousId, DEVICE);
    await send(plain, 'device-keeps', { [DEVICE_ID_HEADER]: DEVICE }, { anonymousId: 'from-the-page' });
    assert.equal((await stored(plain, 'device-keeps')).anonymousId, 'from-the-page');
    await send(plain, 'device-with-user', { [DEVICE_ID_HEADER]: DEVICE }, { userId: 'u-1' });
    const withUser = await stored(plain, 'device-with-user');
    assert.deepEqual([withUser.userId, withUser.anonymousId], ['u-1', DEVICE]);
  });

  test('a malformed device id is ignored: an event with no id at all is rejected as before', async () => {
    const reply = await send(plain, 'bad-device', { [DEVICE_ID_HEADER]: 'not valid; x=1' });
    assert.equal(reply.status, 200);
    assert.equal(reply.json?.accepted, 0);
    assert.match(JSON.stringify(reply.json?.errors), /anonymousId/);
  });

  test('INLET_PROXY_SECRET is checked at start, and never repeated in the message', () => {
    assert.equal(loadConfig([], { INLET_PROXY_SECRET: SECRET }).proxySecret, SECRET);
    assert.equal(loadConfig(['--proxy-secret', SECRET], {}).proxySecret, SECRET);
    assert.equal(loadConfig([], {}).proxySecret, undefined);
    assert.throws(() => loadConfig([], { INLET_PROXY_SECRET: 'tooshort-x' }), (e: Error) => e instanceof InvalidSettingError && /INLET_PROXY_SECRET/.test(e.message) && !e.message.includes('tooshort-x'));
  });
});
