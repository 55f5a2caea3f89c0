import type { BlockList } from 'node:net';
import { isIP } from 'node:net';
import { unmapIPv4 } from '@inlet/schema';

const family = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/**
 * The client's real address. X-Forwarded-For is believed only hop by hop from the right, and
 * only while the hop that added it is a trusted proxy; anything a client wrote there itself is
 * never reached.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: BlockList | undefined): string | undefined {
  if (peer === undefined) return undefined;
  let ip = unmapIPv4(peer);
  if (!trusted || forwardedFor === undefined) return ip;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((h) => h.trim()).reverse();
  for (const hop of hops) {
    if (!trusted.check(ip, family(ip))) break;
    if (!isIP(hop)) break;
    ip = unmapIPv4(hop);
  }
  return ip;
}

/** The part of an address one client controls: the address, or an IPv6 address's /64. */
export function addressKey(ip: string | undefined): string {
  if (ip === undefined) return '';
  if (isIP(ip) !== 6) return ip;
  // The first four groups; "::" inside them means zeros up to there.
  const [head, tail = ''] = ip.toLowerCase().split('::', 2);
  const groups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const full = [...groups, ...Array(Math.max(0, 8 - groups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${full.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
