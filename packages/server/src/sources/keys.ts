import { hash, randomBytes } from 'node:crypto';

/** Source ids are public (they travel in every record); write keys are bearer secrets. */
export function newSourceId(): string {
  return `src_${randomBytes(9).toString('base64url')}`;
}

export function newWriteKey(): string {
  return `wk_${randomBytes(24).toString('base64url')}`;
}

/**
 * What the stores keep of a write key: its SHA-256, hex. A key is 24 random bytes, so a fast hash
 * is enough (nothing to brute-force); a copy of the store, a backup or a log of its queries then
 * holds no key that works. Lookups are by this hash, so no key is ever compared as a string.
 * Every request hashes its key: the one-shot `hash` costs a third of a Hash object's.
 */
export function hashWriteKey(writeKey: string): string {
  return hash('sha256', writeKey, 'hex');
}
