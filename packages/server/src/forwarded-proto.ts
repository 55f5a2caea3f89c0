// Whether a request reached Inlet over HTTPS, for what must only travel encrypted (the console's
// session cookie is marked Secure then). Inlet's listeners speak plain HTTP: TLS ends at a proxy in
// front, which says what the client used in X-Forwarded-Proto. A client can write that header
// itself, so it is believed only from a peer that TRUSTED_PROXIES names, as X-Forwarded-For is
// (client-ip.ts); from anyone else it is ignored.
import type { BlockList } from 'node:net';
import { isTrustedPeer } from './client-ip.ts';

/**
 * true when a trusted proxy's X-Forwarded-Proto says https. Of a list ("https, http", from proxies
 * that append), the last value is the one the trusted peer itself vouches for; those before it
 * were written by whoever connected to that peer.
 */
export function arrivedOverHttps(peer: string | undefined, forwardedProto: string | string[] | undefined, trusted: BlockList | undefined): boolean {
  if (forwardedProto === undefined || !isTrustedPeer(peer, trusted)) return false;
  const values = (Array.isArray(forwardedProto) ? forwardedProto.join(',') : forwardedProto).split(',');
  return values[values.length - 1].trim().toLowerCase() === 'https';
}
