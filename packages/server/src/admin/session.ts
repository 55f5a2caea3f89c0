// The console's session: the admin token, typed once into the login form, is exchanged for a
// cookie (httpOnly, SameSite=Strict, Path=/, expiring) signed with the token's own signing key
// (./token.ts), which only the token gives: every instance verifies it with the public key stored
// beside the sources, a copy of which cannot make one, and rotating the token ends every session.
// The cookie carries its expiry, a nonce and the signature; all that is stored of sessions is the
// nonces of those signed out before their expiry (./ended-sessions.ts), so that a copy of a
// signed-out cookie works on no instance. The cookie is Secure when a trusted proxy's
// X-Forwarded-Proto says the browser used HTTPS, and only then: the listener itself speaks plain
// HTTP (on 127.0.0.1 by default), and a cookie marked Secure over plain HTTP is one a browser may
// refuse to keep or send back. Wrong tokens are
// counted and, past LOGIN_TRIES in a window, refused per address (429) before they are checked.
import { randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../errors.ts';
import { arrivedOverHttps } from '../forwarded-proto.ts';
import type { Metrics } from '../metrics.ts';
import type { EndableSession, EndedSessions } from './ended-sessions.ts';
import { asParams } from './params.ts';
import { signingKey, type AdminTokens } from './token.ts';

export const SESSION_COOKIE = 'inlet_session';
/** How long a console session lasts. */
export const SESSION_TTL_MS = 12 * 3600_000;
export const LOGIN_TRIES = 5;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** Addresses whose wrong tries are remembered at once (a flood from many addresses cannot grow memory without bound). */
export const MAX_TRACKED_ADDRESSES = 10_000;

/** A session cookie's value: version, expiry, a random nonce, and their Ed25519 signature. */
export function signSession(key: KeyObject, expiresAtMs: number): string {
  const payload = `v2.${expiresAtMs.toString(36)}.${randomBytes(12).toString('base64url')}`;
  return `${payload}.${sign(null, Buffer.from(payload), key).toString('base64url')}`;
}

/** The session a cookie's value holds when its signature is right and it has not expired; undefined otherwise. */
export function verifySession(key: KeyObject, value: string, nowMs = Date.now()): EndableSession | undefined {
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0] !== 'v2') return undefined;
  const signature = Buffer.from(parts[3], 'base64url');
  if (signature.length !== 64 || !verify(null, Buffer.from(parts.slice(0, 3).join('.')), key, signature)) return undefined;
  const expiresAtMs = parseInt(parts[1], 36);
  return Number.isFinite(expiresAtMs) && expiresAtMs > nowMs ? { nonce: parts[2], expiresAtMs } : undefined;
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const cookie = (value: string, maxAgeSeconds: number, secure: boolean) =>
  `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;

/** Wrong tokens per client address, in fixed windows. */
export class LoginLimiter {
  private readonly tries = new Map<string, { count: number; windowEnds: number }>();

  /** Seconds to wait when this address has used its tries, else undefined. */
  refused(address: string, nowMs = Date.now()): number | undefined {
    const entry = this.tries.get(address);
    if (!entry || entry.windowEnds <= nowMs) return undefined;
    return entry.count >= LOGIN_TRIES ? Math.ceil((entry.windowEnds - nowMs) / 1000) : undefined;
  }

  failed(address: string, nowMs = Date.now()): void {
    let entry = this.tries.get(address);
    if (!entry || entry.windowEnds <= nowMs) {
      this.tries.delete(address);
      if (this.tries.size >= MAX_TRACKED_ADDRESSES) this.forgetOld(nowMs);
      this.tries.set(address, entry = { count: 0, windowEnds: nowMs + LOGIN_WINDOW_MS });
    }
    entry.count++;
  }

  /** addresses remembered now */
  get tracked(): number {
    return this.tries.size;
  }

  succeeded(address: string): void {
    this.tries.delete(address);
  }

  private forgetOld(nowMs: number): void {
    for (const [address, entry] of this.tries) if (entry.windowEnds <= nowMs) this.tries.delete(address);
    // Still full: the oldest windows go first (a Map keeps insertion order).
    for (const address of this.tries.keys()) {
      if (this.tries.size < MAX_TRACKED_ADDRESSES) break;
      this.tries.delete(address);
    }
  }
}

export class Sessions {
  private readonly tokens: AdminTokens;
  private readonly ended: EndedSessions;
  private readonly trustedProxies: BlockList | undefined;

  /** `trustedProxies`: whose X-Forwarded-Proto says whether the browser used HTTPS (TRUSTED_PROXIES) */
  constructor(tokens: AdminTokens, ended: EndedSessions, trustedProxies?: BlockList) {
    this.tokens = tokens;
    this.ended = ended;
    this.trustedProxies = trustedProxies;
  }

  /** Whether the request carries a session cookie; and if it does, whether it is valid now (signed, unexpired, not signed out). */
  async check(request: FastifyRequest): Promise<'none' | 'valid' | 'invalid'> {
    const value = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (value === undefined || value === '') return 'none';
    const session = await this.verified(value);
    return session && !(await this.ended.has(session)) ? 'valid' : 'invalid';
  }

  /** A session for `token`, which has just been verified. */
  async issue(reply: FastifyReply, token: string): Promise<string> {
    await this.tokens.upgrade(token);
    // A rotation between the check and now: a cookie signed with this token would be refused at once.
    if (!(await this.tokens.signsSessions(token))) throw Errors.invalidAdminToken();
    const expiresAt = Date.now() + SESSION_TTL_MS;
    reply.header('set-cookie', cookie(signSession(signingKey(token), expiresAt), SESSION_TTL_MS / 1000, this.secure(reply.request)));
    return new Date(expiresAt).toISOString();
  }

  /**
   * Signs out: the session in the request's cookie ends on every instance, then the cookie is
   * cleared. When the store cannot record it this rejects before clearing, and the session goes on
   * (it can be signed out again).
   */
  async end(reply: FastifyReply): Promise<void> {
    const value = cookieValue(reply.request.headers.cookie, SESSION_COOKIE);
    const session = value ? await this.verified(value) : undefined;
    if (session) await this.ended.end(session);
    this.clear(reply);
  }

  clear(reply: FastifyReply): void {
    reply.header('set-cookie', cookie('', 0, this.secure(reply.request)));
  }

  private async verified(value: string): Promise<EndableSession | undefined> {
    // (While the store is down: the key last read, for up to STALE_TOKEN_MS; then this rejects.)
    const key = await this.tokens.sessionVerifier();
    return key && verifySession(key, value);
  }

  private secure(request: FastifyRequest): boolean {
    return arrivedOverHttps(request.socket.remoteAddress, request.headers['x-forwarded-proto'], this.trustedProxies);
  }
}

/**
 * POST /api/session (the login; no session needed, the x-inlet-csrf header is), GET (whether the
 * session is valid; behind the admin check like every route) and DELETE (sign out, on every
 * instance; 503 when the store cannot record it, the session kept).
 */
export function registerSessionApi(app: FastifyInstance, tokens: AdminTokens, sessions: Sessions, limiter: LoginLimiter, metrics: Metrics, addressOf: (request: FastifyRequest) => string): void {
  app.post('/api/session', async (request, reply) => {
    const address = addressOf(request);
    const wait = limiter.refused(address);
    if (wait !== undefined) {
      metrics.adminAuthFailures.inc();
      throw Errors.loginLimited(wait);
    }
    const token = asParams(request.body).token;
    if (typeof token !== 'string' || token.length > 512 || !(await tokens.verify(token))) {
      limiter.failed(address);
      metrics.adminAuthFailures.inc();
      throw Errors.invalidAdminToken();
    }
    limiter.succeeded(address);
    return { expiresAt: await sessions.issue(reply, token) };
  });

  app.get('/api/session', async () => ({ signedIn: true }));

  app.delete('/api/session', async (_request, reply) => {
    await sessions.end(reply);
    return { signedIn: false };
  });
}
