// Whether a request reached Inlet over HTTPS, for what must only travel encrypted (the console's
// session cookie is marked Secure then). Behind a proxy that ends TLS the connection here is plain
// HTTP, and the proxy says what the client used in X-Forwarded-Proto. A client can write that
// header itself, so it is believed only from a peer that TRUSTED_PROXIES names, as X-Forwarded-For
// is (client-ip.ts); from anyone else it is ignored.
import { isIP, type BlockList, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { unmapIPv4 } from '@inlet/schema';

/** Whether the connection's peer is one of the trusted proxies. */
export function fromTrustedProxy(peer: string | undefined, trusted: BlockList | undefined): boolean {
  if (peer === undefined || !trusted) return false;
  const ip = unmapIPv4(peer);
  return trusted.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * true over the listener's own TLS, or when a trusted proxy's X-Forwarded-Proto says https. Of a
 * list ("https, http", from proxies that append), the last value is the one the trusted peer itself
 * vouches for; those before it were written by whoever connected to that peer.
 */
export function arrivedOverHttps(socket: Socket, forwardedProto: string | string[] | undefined, trusted: BlockList | undefined): boolean {
  if ((socket as Partial<TLSSocket>).encrypted === true) return true;
  if (forwardedProto === undefined || !fromTrustedProxy(socket.remoteAddress, trusted)) return false;
  const values = (Array.isArray(forwardedProto) ? forwardedProto.join(',') : forwardedProto).split(',');
  return values[values.length - 1].trim().toLowerCase() === 'https';
}
