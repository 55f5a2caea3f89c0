// Requests relayed by a first-party collect proxy (@inlet/node's inletCollect in the site's own
// server) say who the end user is, in the headers of @inlet/schema's collect-headers.ts:
// - the end user's address, believed only when signed with INLET_PROXY_SECRET (the other way,
//   X-Forwarded-For from TRUSTED_PROXIES, is client-ip.ts's and needs no help here);
// - the first-party device id, which becomes the anonymousId of events that carry none (the browser
//   SDK with identity: 'server' sends none). It needs no proof: any client may set anonymousId.
import type { FastifyRequest } from 'fastify';
import { CLIENT_IP_HEADER, DEVICE_ID_HEADER, isDeviceId, unmapIPv4, verifyClientIp } from '@inlet/schema';

const WARN_EVERY_MS = 60_000;

/** Reads the end user's address signed by a collect proxy: undefined without a secret, without the header, or when it is not believed. */
export function proxiedClientIp(secret: string | undefined): (request: FastifyRequest) => string | undefined {
  let lastWarning = 0;
  return (request) => {
    const header = request.headers[CLIENT_IP_HEADER];
    if (secret === undefined || typeof header !== 'string') return undefined;
    const check = verifyClientIp(secret, header);
    if (check.ok) return unmapIPv4(check.ip);
    // A wrong secret would otherwise go unnoticed; bad headers from an attacker must not flood the log.
    const now = Date.now();
    if (now - lastWarning >= WARN_EVERY_MS) {
      lastWarning = now;
      request.log.warn({ reason: check.reason }, `${CLIENT_IP_HEADER} not believed (a collect proxy with another INLET_PROXY_SECRET, clocks apart by more than 5 minutes, or a forgery); the peer address is used. Logged at most once a minute`);
    }
    return undefined;
  };
}

export function deviceIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers[DEVICE_ID_HEADER];
  return isDeviceId(header) ? header : undefined;
}

/** Gives an event without an anonymousId (none, null or "", as validation counts it) the device id (in place: the body is the request's own). */
export function withDeviceId(item: unknown, deviceId: string | undefined): unknown {
  if (deviceId !== undefined && item !== null && typeof item === 'object' && !Array.isArray(item)) {
    const event = item as { anonymousId?: unknown };
    if (event.anonymousId === undefined || event.anonymousId === null || event.anonymousId === '') event.anonymousId = deviceId;
  }
  return item;
}
