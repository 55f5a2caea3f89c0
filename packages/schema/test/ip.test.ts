import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { anonymizeIp, applyIpPolicy, unmapIPv4 } from '@inlet/schema';

/** Canonical (RFC 5952) spelling of an IPv6 address, by way of the WHATWG URL parser. */
const canonical = (ip: string) => new URL(`http://[${ip}]/`).hostname.slice(1, -1);

describe('anonymizeIp', () => {
  test('IPv4: the last octet is zeroed', () => {
    assert.equal(anonymizeIp('203.0.113.97'), '203.0.113.0');
    assert.equal(anonymizeIp('10.0.0.0'), '10.0.0.0');
    assert.equal(anonymizeIp('255.255.255.255'), '255.255.255.0');
  });

  test('IPv4-mapped IPv6 is treated as the IPv4 address', () => {
    assert.equal(unmapIPv4('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(anonymizeIp('::ffff:198.51.100.7'), '198.51.100.0');
    assert.equal(unmapIPv4('::1'), '::1');
  });

  test('every spelling of an IPv4-mapped address is the IPv4 address; addresses that only look alike are left as they are', () => {
    for (const mapped of ['::FFFF:198.51.100.7', '0:0:0:0:0:ffff:198.51.100.7', '::ffff:c633:6407', '0::FFFF:C633:6407', '::ffff:198.51.100.7%eth0']) {
      assert.equal(unmapIPv4(mapped), '198.51.100.7', mapped);
    }
    for (const other of ['2001:db8::ffff:1', 'ffff::1', '::ffff', '1::ffff:198.51.100.7', 'not an address ffff', '198.51.100.7']) {
      assert.equal(unmapIPv4(other), other, other);
    }
  });

  test('IPv6: the last 80 bits are zeroed, whatever the spelling', () => {
    const cases: Array<[string, string]> = [
      ['2001:0db8:85a3:1234:5678:8a2e:0370:7334', '2001:db8:85a3::'],
      ['2001:db8:85a3:1234:5678:8a2e:370:7334', '2001:db8:85a3::'],
      ['2001:DB8:85A3::8A2E:370:7334', '2001:db8:85a3::'],
      ['2001:db8::1', '2001:db8::'],
      ['2001:db8:0:ffff::', '2001:db8::'],
      ['2001::db8:1', '2001::'],
      ['::1', '::'],
      ['::', '::'],
      ['fe80::1%eth0', 'fe80::'],
      ['2001:db8:abcd:12::', '2001:db8:abcd::'],
      ['0:db8:abcd:1:2:3:4:5', '0:db8:abcd::'],
      ['64:ff9b::192.0.2.33', '64:ff9b::'],
      ['2001:db8:1:2:3:4:192.0.2.33', '2001:db8:1::'],
    ];
    for (const [input, expected] of cases) {
      const out = anonymizeIp(input);
      assert.equal(out, expected, input);
      assert.equal(canonical(out!), out, `${input} → ${out} is in canonical form`);
    }
  });

  test('anything that is not an IP gives undefined', () => {
    for (const input of ['', 'localhost', '1.2.3', '1.2.3.4.5', '2001:db8:::1', 'unknown']) assert.equal(anonymizeIp(input), undefined, input);
  });
});

describe('applyIpPolicy', () => {
  test('full keeps the address (unmapped), anonymize truncates it, drop removes it', () => {
    assert.equal(applyIpPolicy('::ffff:203.0.113.9', 'full'), '203.0.113.9');
    assert.equal(applyIpPolicy('2001:db8:1:2::9', 'full'), '2001:db8:1:2::9');
    assert.equal(applyIpPolicy('203.0.113.9', 'anonymize'), '203.0.113.0');
    assert.equal(applyIpPolicy('2001:db8:1:2::9', 'anonymize'), '2001:db8:1::');
    assert.equal(applyIpPolicy('203.0.113.9', 'drop'), undefined);
    assert.equal(applyIpPolicy(undefined, 'full'), undefined);
  });
});
