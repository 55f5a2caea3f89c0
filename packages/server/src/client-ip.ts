import type { BlockList } from 'node:net';
import { isIP } from 'node:net';
import { expandIPv6, unmapIPv4 } from '@inlet/schema';

const family = (ip: string) => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Whether a connection's peer is one of the trusted proxies, whose forwarding headers are believed. */
export function isTrustedPeer(peer: string | undefined, trusted: BlockList | undefined): boolean {
  if (peer === undefined || !trusted) return false;
  const ip = unmapIPv4(peer);
  return trusted.check(ip, family(ip));
}

/**
 * One X-Forwarded-For entry as an address: bare, or with the port some proxies add (Azure's
 * Application Gateway writes `1.2.3.4:5678` and `[2001:db8::1]:5678`); undefined for anything else.
 */
function hopAddress(hop: string): string | undefined {
  if (isIP(hop)) return hop;
  const bracketed = /^\[([^\]]+)\]:\d{1,5}$/.exec(hop);
  if (bracketed) return isIP(bracketed[1]) === 6 ? bracketed[1] : undefined;
  const colon = hop.indexOf(':');
  if (colon > 0 && colon === hop.lastIndexOf(':') && /^\d{1,5}$/.test(hop.slice(colon + 1))) {
    const v4 = hop.slice(0, colon);
    return isIP(v4) === 4 ? v4 : undefined;
  }
  return undefined;
}

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
    const address = hopAddress(hop);
    if (address === undefined) break;
    ip = unmapIPv4(address);
  }
  return ip;
}

/** The part of an address one client controls: the address, or an IPv6 address's /64. */
export function addressKey(ip: string | undefined): string {
  if (ip === undefined) return '';
  if (isIP(ip) !== 6) return ip;
  return `${expandIPv6(ip.split('%')[0]).slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
