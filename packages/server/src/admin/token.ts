// The admin token: one bearer secret for the admin API, made on first start and shown once.
// Only its SHA-256 is stored (a long random token needs no slow hash), beside the sources so that
// every instance sharing them accepts the same token. Compared in constant time; never logged.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SourceStore } from '../sources/source-store.ts';

export type AdminTokenStore = Pick<SourceStore, 'adminTokenHash' | 'setAdminTokenHash'>;

export const newAdminToken = (): string => `inlet_at_${randomBytes(32).toString('base64url')}`;

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class AdminTokens {
  private cached: { hash: Buffer | undefined; at: number } | undefined;
  private readonly store: AdminTokenStore;
  private readonly cacheMs: number;

  /** `cacheMs`: how long the stored hash is trusted before it is read again (a rotation reaches running servers within this). */
  constructor(store: AdminTokenStore, cacheMs = 5000) {
    this.store = store;
    this.cacheMs = cacheMs;
  }

  /** Makes the token when there is none: returns it then (the only time it can be shown), undefined otherwise. */
  async ensure(): Promise<string | undefined> {
    if (await this.store.adminTokenHash()) return undefined;
    const token = newAdminToken();
    const stored = await this.store.setAdminTokenHash(digest(token).toString('hex'), false);
    this.cached = undefined;
    // Another instance made one at the same moment: theirs stands, and they show it.
    return stored ? token : undefined;
  }

  /** Replaces the token; the old one stops working (on running servers within `cacheMs`). */
  async rotate(): Promise<string> {
    const token = newAdminToken();
    await this.store.setAdminTokenHash(digest(token).toString('hex'), true);
    this.cached = undefined;
    return token;
  }

  async verify(presented: string): Promise<boolean> {
    const expected = await this.currentHash();
    if (!expected) return false;
    return timingSafeEqual(digest(presented), expected);
  }

  /**
   * The key console sessions are signed with, derived from the token's hash: rotating the token
   * changes it, so every session signed before ends (within `cacheMs`). Undefined without a token.
   */
  async sessionKey(): Promise<Buffer | undefined> {
    const hash = await this.currentHash();
    return hash && createHmac('sha256', hash).update('inlet console session v1').digest();
  }

  private async currentHash(): Promise<Buffer | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > this.cacheMs) {
      const hex = await this.store.adminTokenHash();
      this.cached = { hash: hex === undefined ? undefined : Buffer.from(hex, 'hex'), at: now };
    }
    const hash = this.cached.hash;
    return hash && hash.length === 32 ? hash : undefined;
  }
}
