import { isIPv4, isIPv6 } from 'node:net';
import type { IpPolicy } from './event.ts';

/**
 * An IPv4-mapped IPv6 address → the IPv4 address: `::ffff:1.2.3.4` (what a dual-stack socket
 * reports for IPv4 peers) in any case, and the other ways a proxy may write the same address
 * (`0:0:0:0:0:ffff:1.2.3.4`, `::ffff:102:304`). Anything else as it is.
 */
export function unmapIPv4(ip: string): string {
  if (ip.slice(0, 7).toLowerCase() === '::ffff:' && isIPv4(ip.slice(7))) return ip.slice(7);
  // The other spellings are rare: expanded only when the text could be one.
  if (!/ffff/i.test(ip) || !isIPv6(ip)) return ip;
  const groups = expandIPv6(ip.split('%')[0]).map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.slice(0, 5).some((g) => g !== 0) || groups[5] !== 0xffff) return ip;
  return `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`;
}

/**
 * An IPv6 address's eight groups as written (an embedded IPv4 tail as two), "::" filled with
 * zeros. For a valid IPv6 address (`isIPv6`) without a zone; other text gives nonsense.
 */
export function expandIPv6(ip: string): string[] {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const lastRight = right.length ? right[right.length - 1] : left[left.length - 1];
  // An embedded IPv4 tail (e.g. ::1.2.3.4) occupies two groups.
  if (lastRight && isIPv4(lastRight)) {
    const parts = lastRight.split('.').map(Number);
    const groups = [((parts[0] << 8) | parts[1]).toString(16), ((parts[2] << 8) | parts[3]).toString(16)];
    if (right.length) right.splice(right.length - 1, 1, ...groups);
    else left.splice(left.length - 1, 1, ...groups);
  }
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right];
}

/** IPv4: last octet zeroed. IPv6: last 80 bits zeroed (the /48 is kept). Anything else: undefined. */
export function anonymizeIp(raw: string): string | undefined {
  const ip = unmapIPv4(raw);
  if (isIPv4(ip)) return ip.slice(0, ip.lastIndexOf('.')) + '.0';
  if (isIPv6(ip)) {
    const groups = expandIPv6(ip.split('%')[0]).slice(0, 3).map((g) => parseInt(g, 16).toString(16));
    // RFC 5952 form: the zeroed tail and any zero groups just before it fold into "::".
    while (groups.length > 0 && groups[groups.length - 1] === '0') groups.pop();
    return `${groups.join(':')}::`;
  }
  return undefined;
}

export function applyIpPolicy(ip: string | undefined, policy: IpPolicy): string | undefined {
  if (ip === undefined || policy === 'drop') return undefined;
  return policy === 'anonymize' ? anonymizeIp(ip) : unmapIPv4(ip);
}
