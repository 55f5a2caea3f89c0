// The first-party identity cookie. It is set by an HTTP response of the site itself, httpOnly, so
// Safari's ITP does not cap it at 7 days the way it caps storage written by scripts, and no script
// on the page (a third-party one included) can read it. Its value becomes the anonymousId of the
// events that arrive without one (the browser SDK with identity: 'server'); the Inlet server fills
// it in from the x-inlet-device-id header, so the proxy never parses or rewrites a body.
import { randomUUID } from 'node:crypto';
import { isDeviceId } from '@inlet/schema';

export const COOKIE_NAME = 'inlet_id';
const ONE_YEAR_S = 365 * 24 * 3600;

/** The id in the Cookie header, when there is a well-formed one. */
export function readDeviceId(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const pair of cookieHeader.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === COOKIE_NAME) {
      const value = pair.slice(eq + 1).trim();
      if (isDeviceId(value)) return value;
    }
  }
  return undefined;
}

export const newDeviceId = (): string => randomUUID();

interface CookieScope {
  /** the collect prefix: the cookie is sent to the proxy only, not with every page of the site */
  path: string;
  /** the page is https */
  secure: boolean;
}

/** Set on every ingestion answer, so it is renewed for another year each time it is used. */
export function identityCookie(id: string, scope: CookieScope): string {
  return `${COOKIE_NAME}=${id}; Max-Age=${ONE_YEAR_S}; Path=${scope.path}; HttpOnly; SameSite=Lax${scope.secure ? '; Secure' : ''}`;
}

/** Deletes the cookie (consent withdrawn). */
export function clearedCookie(scope: CookieScope): string {
  return `${COOKIE_NAME}=; Max-Age=0; Path=${scope.path}; HttpOnly; SameSite=Lax${scope.secure ? '; Secure' : ''}`;
}
