// Which address a request comes from, as Inlet believes it: the connection's peer, or what a proxy
// that TRUSTED_PROXIES names says in X-Forwarded-For (the collect proxy's signed address is
// collect-proxy.ts's). A client can write any header, so a hop is believed only while the hop to
// its right is trusted. The address is personal data and budgets hang on it (the unauthenticated
// limiter, a browser key's per-address share), so every form a proxy writes is read the same way.
import { BlockList, isIP } from 'node:net';
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
  const bracketed = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(hop);
  if (bracketed) return isIP(bracketed[1]) === 6 && isPort(bracketed[2]) ? bracketed[1] : undefined;
  const withPort = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$/.exec(hop);
  return withPort && isIP(withPort[1]) === 4 && isPort(withPort[2]) ? withPort[1] : undefined;
}

const isPort = (digits: string) => Number(digits) <= 65535;

/** Loopback, private (RFC 1918), shared (RFC 6598), link-local and IPv6 unique-local addresses: those a proxy of one's own connects from. */
const PRIVATE = new BlockList();
for (const [net, bits] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['100.64.0.0', 10], ['169.254.0.0', 16]] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['fc00::', 7], ['fe80::', 10], ['::1', 128]] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

export function isPrivateAddress(ip: string): boolean {
  const kind = isIP(ip);
  return kind !== 0 && PRIVATE.check(ip.split('%')[0], kind === 6 ? 'ipv6' : 'ipv4');
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
