import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_IP_MAX_AGE_S, isDeviceId, signClientIp, verifyClientIp } from '@inlet/schema';

const SECRET = 'a-shared-secret-of-some-length';
const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('the signed client address of a collect proxy', () => {
  test('what the proxy signs, the server believes: IPv4 and IPv6', () => {
    for (const ip of ['203.0.113.7', '2001:db8::42', '::ffff:198.51.100.7']) {
      assert.deepEqual(verifyClientIp(SECRET, signClientIp(SECRET, ip, NOW), NOW + 1000), { ok: true, ip });
    }
  });

  test('another secret, a changed address or a changed time is refused', () => {
    const header = signClientIp(SECRET, '203.0.113.7', NOW);
    assert.deepEqual(verifyClientIp('another-secret-entirely', header, NOW), { ok: false, reason: 'bad signature' });
    assert.deepEqual(verifyClientIp(SECRET, header.replace('203.0.113.7', '203.0.113.8'), NOW), { ok: false, reason: 'bad signature' });
    const t = Math.floor(NOW / 1000);
    assert.deepEqual(verifyClientIp(SECRET, header.replace(`t=${t}`, `t=${t + 1}`), NOW), { ok: false, reason: 'bad signature' });
  });

  test(`a header older (or newer) than ${CLIENT_IP_MAX_AGE_S} s is not believed: a copied one is soon useless`, () => {
    const header = signClientIp(SECRET, '203.0.113.7', NOW);
    assert.equal(verifyClientIp(SECRET, header, NOW + CLIENT_IP_MAX_AGE_S * 1000).ok, true);
    assert.deepEqual(verifyClientIp(SECRET, header, NOW + (CLIENT_IP_MAX_AGE_S + 2) * 1000), { ok: false, reason: 'expired' });
    assert.deepEqual(verifyClientIp(SECRET, header, NOW - (CLIENT_IP_MAX_AGE_S + 2) * 1000), { ok: false, reason: 'expired' });
  });

  test('malformed headers are refused without throwing', () => {
    for (const header of ['', '203.0.113.7', 'not-an-ip; t=1; sig=' + 'A'.repeat(43), '999.1.1.1; t=1772366400; sig=' + 'A'.repeat(43), `203.0.113.7; t=${NOW / 1000}; sig=short`, 'x'.repeat(10_000)]) {
      assert.deepEqual(verifyClientIp(SECRET, header, NOW), { ok: false, reason: 'malformed' }, header.slice(0, 40));
    }
  });
});

test('device ids: url-safe, 8 to 64 characters', () => {
  assert.equal(isDeviceId('0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b'), true);
  for (const bad of ['', 'short', 'a'.repeat(65), 'has space in it', 'semi;colon0', 42, undefined]) assert.equal(isDeviceId(bad), false, String(bad));
});
