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
