// How a first-party collect proxy (@inlet/node's inletCollect, running in the site's own server)
// tells the Inlet server who the end user is. Both sides import this file, so the header names and
// the signature cannot drift apart.
//
// The client's address needs a proof that the proxy wrote it: otherwise anyone posting to Inlet
// could claim any address. X-Forwarded-For with TRUSTED_PROXIES proves it by the peer's address,
// which fails where the app's address is not stable (serverless functions, autoscaled containers
// behind NAT shared with other tenants). The signed header proves it by a secret both sides hold.
// The device id needs no proof: it is an anonymousId, which any client may set in the body anyway.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** `<ip>; t=<unix seconds>; sig=<base64url HMAC-SHA256>` */
export const CLIENT_IP_HEADER = 'x-inlet-client-ip';
/** the first-party identity; fills `anonymousId` of events that carry none */
export const DEVICE_ID_HEADER = 'x-inlet-device-id';
/** A signed address is believed this long (either way, for clock differences); a copied header is useless after. */
export const CLIENT_IP_MAX_AGE_S = 300;

const DEVICE_ID = /^[A-Za-z0-9_-]{8,64}$/;

function mac(secret: string, ip: string, t: number): Buffer {
  return createHmac('sha256', secret).update(`inlet-client-ip-v1\n${ip}\n${t}`).digest();
}

export function signClientIp(secret: string, ip: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `${ip}; t=${t}; sig=${mac(secret, ip, t).toString('base64url')}`;
}

export type ClientIpCheck = { ok: true; ip: string } | { ok: false; reason: string };

/** The address a proxy holding `secret` signed, or why the header is not believed. */
export function verifyClientIp(secret: string, header: string, nowMs = Date.now()): ClientIpCheck {
  const match = /^([0-9A-Fa-f.:]{2,45}); t=(\d{1,12}); sig=([A-Za-z0-9_-]{43})$/.exec(header);
  if (!match) return { ok: false, reason: 'malformed' };
  const [, ip, time, sig] = match;
  if (!isIP(ip)) return { ok: false, reason: 'malformed' };
  const t = Number(time);
  if (Math.abs(nowMs / 1000 - t) > CLIENT_IP_MAX_AGE_S) return { ok: false, reason: 'expired' };
  if (!timingSafeEqual(Buffer.from(sig, 'base64url'), mac(secret, ip, t))) return { ok: false, reason: 'bad signature' };
  return { ok: true, ip };
}

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID.test(value);
}
