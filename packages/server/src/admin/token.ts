// The admin token: one bearer secret for the admin API, made on first start and shown once. What
// is stored, beside the sources so that every instance sharing them accepts the same token, is a
// one-way image of it: the Ed25519 public key whose private key is derived from the token. That
// checks a token presented (derive, compare in constant time) and verifies the console's session
// cookies, which are signed, at login, with the private key; so a copy of the store (a backup,
// read access to the database) can neither sign in nor make a session. (The SHA-256 stored before
// made the sessions' key from the stored value itself: a copy of the store could make sessions.
// A store that still holds one is moved to the public key at the next login.) Never logged.
import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SourceStoreUnavailableError } from '../errors.ts';
import type { SourceStore } from '../sources/source-store.ts';

export type AdminTokenStore = Pick<SourceStore, 'adminTokenHash' | 'setAdminTokenHash'>;

export const newAdminToken = (): string => `inlet_at_${randomBytes(32).toString('base64url')}`;

/** The prefix of a stored public key; a stored value without it is the SHA-256 (hex) of a token made before. */
const ED25519 = 'ed25519:';
/** DER prefixes of an Ed25519 private key (PKCS #8) and public key (SPKI) around their 32 raw bytes. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The token's signing key: a private key derived from it (an HMAC of the token as the seed). */
export function signingKey(token: string): KeyObject {
  const seed = createHmac('sha256', token).update('inlet admin session key v2').digest();
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** What is stored for a token: its signing key's public half, raw, in hex. */
export function storedFormOf(token: string): string {
  const spki = createPublicKey(signingKey(token)).export({ format: 'der', type: 'spki' });
  return ED25519 + spki.subarray(SPKI_PREFIX.length).toString('hex');
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

interface Stored {
  value: string;
  /** the public key that verifies sessions; undefined for a SHA-256 stored before (no sessions until moved) */
  publicKey: KeyObject | undefined;
}

/**
 * Through an outage of the sources' database the value last read stays in force for this long
 * after that read, as cached write keys do: /metrics and the admin API are how an operator watches
 * the outage, and a 503 there blinded every instance at once. Not for ever: an instance cut off
 * from a database that is up would miss a rotation made meanwhile (a leaked token replaced).
 */
export const STALE_TOKEN_MS = 15 * 60_000;

export class AdminTokens {
  /** `at`: when it was last asked for; `readAt`: when the store last answered */
  private cached: { stored: Stored | undefined; at: number; readAt: number } | undefined;
  /** the last token checked, and what it is stored as (a bearer script sends the same one every time) */
  private lastChecked: { sha256: string; form: string } | undefined;
  private readonly store: AdminTokenStore;
  private readonly cacheMs: number;
  private readonly staleMs: number;

  /**
   * `cacheMs`: how long the stored value is trusted before it is read again (a rotation reaches
   * running servers within this); `staleMs`: how long after the store last answered its value
   * stays in force while the store cannot be reached.
   */
  constructor(store: AdminTokenStore, cacheMs = 5000, staleMs = STALE_TOKEN_MS) {
    this.store = store;
    this.cacheMs = cacheMs;
    this.staleMs = staleMs;
  }

  /** Makes the token when there is none: returns it then (the only time it can be shown), undefined otherwise. */
  async ensure(): Promise<string | undefined> {
    if (await this.store.adminTokenHash()) return undefined;
    const token = newAdminToken();
    const stored = await this.store.setAdminTokenHash(storedFormOf(token), false);
    this.cached = undefined;
    // Another instance made one at the same moment: theirs stands, and they show it.
    return stored ? token : undefined;
  }

  /** Replaces the token; the old one stops working, and every session signed with it ends (on running servers within `cacheMs`). */
  async rotate(): Promise<string> {
    const token = newAdminToken();
    await this.store.setAdminTokenHash(storedFormOf(token), true);
    this.cached = undefined;
    return token;
  }

  async verify(presented: string): Promise<boolean> {
    const stored = await this.current();
    if (!stored) return false;
    if (stored.publicKey === undefined) return timingSafeEqual(digest(presented), Buffer.from(stored.value, 'hex'));
    return timingSafeEqual(Buffer.from(this.formOf(presented)), Buffer.from(stored.value));
  }

  /**
   * After a login with `token` (already verified): a store that still holds the token's SHA-256 is
   * moved to its public key, unless it changed meanwhile (a rotation wins).
   */
  async upgrade(token: string): Promise<void> {
    const stored = await this.current();
    if (!stored || stored.publicKey !== undefined) return;
    await this.store.setAdminTokenHash(storedFormOf(token), { expected: stored.value });
    this.cached = undefined;
  }

  /** The key that verifies console sessions now; undefined without a token (or before a stored SHA-256 is moved). */
  async sessionVerifier(): Promise<KeyObject | undefined> {
    return (await this.current())?.publicKey;
  }

  /** Whether sessions signed with `token`'s key verify against what is stored now (not after a rotation that won over it). */
  async signsSessions(token: string): Promise<boolean> {
    // Read afresh: a login is rare, and a cached value may predate a rotation. (The store down
    // fails this login, not the value in force for everything else.)
    const stored = await this.current(true);
    return stored?.publicKey !== undefined && stored.value === this.formOf(token);
  }

  private formOf(token: string): string {
    // Deriving the key is the costly part, so the last token's form is kept. It is found by the
    // token's SHA-256, not the token: comparing a presented token with the last one (most often
    // the real one) as strings would stop at the first differing character.
    const sha256 = digest(token).toString('hex');
    if (this.lastChecked?.sha256 !== sha256) this.lastChecked = { sha256, form: storedFormOf(token) };
    return this.lastChecked.form;
  }

  private async current(fresh = false): Promise<Stored | undefined> {
    const now = Date.now();
    if (fresh || !this.cached || now - this.cached.at > this.cacheMs) {
      let value: string | undefined;
      try {
        value = await this.store.adminTokenHash();
      } catch (error) {
        // (STALE_TOKEN_MS; asked again after cacheMs)
        const stale = this.cached;
        if (fresh || !(error instanceof SourceStoreUnavailableError) || !stale || now - stale.readAt > this.staleMs) throw error;
        stale.at = now;
        return stale.stored;
      }
      this.cached = { stored: value === undefined ? undefined : parseStored(value, this.cached?.stored), at: now, readAt: now };
    }
    return this.cached.stored;
  }
}

/** A stored value, checked; the previous one's key is reused when the value is the same. */
function parseStored(value: string, previous: Stored | undefined): Stored | undefined {
  if (previous?.value === value) return previous;
  // Exactly the forms written here: a value of another length would make the comparisons above throw.
  if (/^ed25519:[0-9a-f]{64}$/.test(value)) {
    const raw = Buffer.from(value.slice(ED25519.length), 'hex');
    return { value, publicKey: createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }) };
  }
  return /^[0-9a-f]{64}$/.test(value) ? { value, publicKey: undefined } : undefined;
}
