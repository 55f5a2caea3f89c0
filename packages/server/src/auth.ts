import type { FastifyRequest } from 'fastify';
import { Errors, SourceStoreUnavailableError } from './errors.ts';
import type { UnauthenticatedLimiter } from './limits/unauthenticated-limiter.ts';
import type { Metrics } from './metrics.ts';
import { hashWriteKey } from './sources/keys.ts';
import type { Source, SourceStore } from './sources/source-store.ts';

/** An Authorization header of the Basic scheme, the one that carries a write key. */
const isBasic = (header: string) => header.slice(0, 6).toLowerCase() === 'basic ' || header.toLowerCase() === 'basic';

/**
 * The write key from `Authorization: Basic base64(key:)` or, failing that, the body's `writeKey`,
 * or, where a route allows it (`fromQuery`: beacons and RudderStack's config request, which
 * cannot set headers or have no body), the URL's `?writeKey=`. Another scheme is no write key:
 * Segment's OAuth sends `Bearer <token>` for its own servers with the write key in the body.
 */
export function writeKeyOf(request: FastifyRequest, body: Record<string, unknown> | undefined, fromQuery = false): string {
  const header = request.headers.authorization;
  if (header !== undefined && isBasic(header)) {
    const token = header.slice(6).trim();
    if (!token) throw Errors.malformedAuthorization('expected "Basic base64(writeKey:)"');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const key = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    if (!key) throw Errors.malformedAuthorization('the encoded write key is empty');
    return key;
  }
  let key = body?.writeKey;
  if ((key === undefined || key === null || key === '') && fromQuery) key = (request.query as Record<string, unknown> | undefined)?.writeKey;
  if (key === undefined || key === null || key === '') {
    throw header === undefined ? Errors.missingWriteKey() : Errors.malformedAuthorization('expected "Basic base64(writeKey:)", or a writeKey in the body');
  }
  if (typeof key !== 'string') throw Errors.invalidWriteKey('writeKey must be a string');
  return key;
}

/**
 * Inlet's write keys are 35 characters. Anything much longer is no key of ours: refused before
 * the lookup, so junk keys cannot fill the lookup cache (it remembers misses) or load the database.
 */
const MAX_WRITE_KEY_LENGTH = 256;

/** Why a request had no valid key, as counted in `inlet_unauthenticated_requests_total`. */
export type AuthFailure = 'missing' | 'unknown' | 'revoked' | 'limited';

/** The error a request without a valid key gets, and why. */
class AuthFailed {
  readonly reason: AuthFailure;
  readonly error: Error;
  constructor(reason: AuthFailure, error: Error) {
    this.reason = reason;
    this.error = error;
  }
}

async function lookUp(sources: KeyLookup, keyHash: string): Promise<Source | AuthFailed> {
  let source: Source | undefined;
  try {
    source = await sources.findByKeyHash(keyHash);
  } catch (error) {
    if (error instanceof SourceStoreUnavailableError) throw Errors.sourceStoreUnavailable();
    throw error;
  }
  if (!source) return new AuthFailed('unknown', Errors.invalidWriteKey());
  if (source.revokedAt) return new AuthFailed('revoked', Errors.invalidWriteKey('this write key was revoked'));
  return source;
}

/**
 * The key hash of a write key `keyOf` finds, or why there is none. Hashed once: the cache and the
 * store know keys by their hash alone.
 */
function keyHashOf(keyOf: () => string): string | AuthFailed {
  let writeKey: string;
  try {
    writeKey = keyOf();
  } catch (error) {
    return new AuthFailed('missing', error as Error);
  }
  if (writeKey.length > MAX_WRITE_KEY_LENGTH) return new AuthFailed('unknown', Errors.invalidWriteKey());
  return hashWriteKey(writeKey);
}

/**
 * Authorization headers whose key hash is remembered, so a header is not decoded and hashed again
 * for every request its SDK sends with it: that was 4-5% of a single-event request's
 * main thread (profile, 2026-12-06). Only headers that named a source are remembered, so a flood of
 * unknown keys cannot flush them; all are forgotten when this many are. They hold write keys in
 * clear, as the requests did, in this process's memory only (the stores keep hashes). 512
 * characters: `Basic ` and a 256-character key with its colon in base64 is about 350.
 */
const MAX_REMEMBERED_HEADERS = 1024;
const MAX_REMEMBERED_HEADER_LENGTH = 512;

/** The source store as authentication uses it; `cachedByKeyHash` answers from memory alone (CachedSourceStore). */
export type KeyLookup = Pick<SourceStore, 'findByKeyHash'> & { cachedByKeyHash?(keyHash: string): Source | undefined };

/**
 * Authentication with its cost bounded. A key in the Authorization header is checked before the
 * body is read (`beforeBody`), so a request with a bad key is refused without its body being read
 * or parsed. Every request without a valid key spends a token of its client address's budget
 * (`UnauthenticatedLimiter`); an address out of tokens gets 429 before anything is looked up or
 * read. Keys that only come in the body are checked after it is parsed, against the same budget.
 * A header that named a source is remembered with its key's hash (`knownBeforeBody`): while the
 * source store's cache knows that key as active, its requests are admitted without waiting.
 */
export class Authenticator {
  readonly #sources: KeyLookup;
  readonly #limiter: UnauthenticatedLimiter;
  readonly #metrics: Metrics;
  readonly #headerKeyHashes = new Map<string, string>();

  constructor(deps: { sources: KeyLookup; limiter: UnauthenticatedLimiter; metrics: Metrics }) {
    this.#sources = deps.sources;
    this.#limiter = deps.limiter;
    this.#metrics = deps.metrics;
  }

  /**
   * Before the body: the source of the header's key, checked now, or undefined when there is no
   * header (the key may be in the body). Throws 401, 429 or 503.
   */
  async beforeBody(request: FastifyRequest, ip: string | undefined): Promise<Source | undefined> {
    const header = request.headers.authorization;
    if (header === undefined || !isBasic(header)) {
      this.#admit(ip);
      return undefined;
    }
    const remembered = this.#headerKeyHashes.get(header);
    const keyHash = remembered ?? keyHashOf(() => writeKeyOf(request, undefined));
    const source = await this.#authenticateHash(ip, keyHash);
    // Remembered once it named a source, so junk keys can neither fill nor flush what SDKs' headers use.
    if (remembered === undefined && typeof keyHash === 'string' && header.length <= MAX_REMEMBERED_HEADER_LENGTH) {
      if (this.#headerKeyHashes.size >= MAX_REMEMBERED_HEADERS) this.#headerKeyHashes.clear();
      this.#headerKeyHashes.set(header, keyHash);
    }
    return source;
  }

  /**
   * The source of a request's header key when this instance already knows it as active, found
   * without waiting; undefined means ask `beforeBody`. It answers as `beforeBody` would (a known
   * active key passes whatever its address's budget), without its four promises: most requests.
   */
  knownBeforeBody(request: FastifyRequest): Source | undefined {
    const header = request.headers.authorization;
    const keyHash = header === undefined ? undefined : this.#headerKeyHashes.get(header);
    const source = keyHash === undefined ? undefined : this.#sources.cachedByKeyHash?.(keyHash);
    return source?.revokedAt ? undefined : source;
  }

  /** The source of the key `keyOf` finds (it throws 401 when there is none); 401, 429 or 503 otherwise. */
  authenticate(ip: string | undefined, keyOf: () => string): Promise<Source> {
    return this.#authenticateHash(ip, keyHashOf(keyOf));
  }

  async #authenticateHash(ip: string | undefined, keyHash: string | AuthFailed): Promise<Source> {
    if (keyHash instanceof AuthFailed) {
      this.#admit(ip);
      throw this.#failed(ip, keyHash);
    }
    // An address out of its budget costs no query: only a key this instance already knows as
    // active gets through (a valid key is never limited by other requests' failures).
    let known: Source | undefined;
    if (this.#limiter.retryAfter(ip) > 0) {
      known = this.#sources.cachedByKeyHash?.(keyHash);
      if (!known || known.revokedAt) this.#admit(ip);
    }
    const found = known ?? await lookUp(this.#sources, keyHash);
    if (found instanceof AuthFailed) throw this.#failed(ip, found);
    return found;
  }

  #admit(ip: string | undefined): void {
    const wait = this.#limiter.retryAfter(ip);
    if (wait === 0) return;
    this.#metrics.unauthenticated.labels('limited').inc();
    throw Errors.unauthenticatedLimited(wait);
  }

  #failed(ip: string | undefined, failure: AuthFailed): Error {
    this.#limiter.spend(ip);
    this.#metrics.unauthenticated.labels(failure.reason).inc();
    return failure.error;
  }
}
