// Signing out ends a console session on every instance, not only in the browser that held it.
// Sessions are signed cookies that any instance verifies without asking anyone (./session.ts), so
// what ends one before its expiry is a shared record: the cookie's nonce, in the store that holds
// the admin token's public key (the embedded SQLite file, or PostgreSQL shared by every instance),
// kept until the cookie would have expired anyway and pruned after that. The record stays small:
// only a valid session can sign out, once, and each entry goes when its cookie expires.
//
// Every session check reads the record (one primary-key lookup), with no cache: admin traffic is a
// person's clicks and a few live streams checking again every 2 s, and reading each time means a
// sign-out holds on every instance from its very next request.
//
// While the store cannot be reached a check answers from what this instance knows, as the token
// check does: the sessions it saw end (a sign-out here, or an earlier read) stay ended, the others
// stay valid. How long is bounded by the token check that runs first: it refuses everything once
// the store has not answered for STALE_TOKEN_MS (./token.ts). So an operator watching an outage
// keeps the console and /metrics. After a failed read the store is asked again only after
// RETRY_STORE_MS, so a database that does not answer does not hold up every request; a sign-out
// elsewhere is seen here within those seconds once it is back. A sign-out, though, needs the store
// (as a login does): without it the sign-out fails (503) and the session goes on, so it can be
// tried again.
import { SourceStoreUnavailableError } from '../errors.ts';
import type { SourceStore } from '../sources/source-store.ts';

export type EndedSessionStore = Pick<SourceStore, 'endSession' | 'sessionEnded'>;

/** Ended sessions this instance remembers itself (for an outage of the store): a bound on memory. */
export const MAX_REMEMBERED_ENDED = 10_000;
/** After the store failed to answer, how long checks answer from memory before asking it again (as the token's cache). */
export const RETRY_STORE_MS = 5000;

/** A verified session: its nonce and when its cookie expires. */
export interface EndableSession {
  nonce: string;
  expiresAtMs: number;
}

export class EndedSessions {
  private readonly store: EndedSessionStore;
  /** nonce -> when its cookie expires: sessions this instance saw end, oldest first */
  private readonly seen = new Map<string, number>();
  /** while the store is known to be unreachable: when to ask it again */
  private retryAt = 0;

  constructor(store: EndedSessionStore) {
    this.store = store;
  }

  /** Whether the session was signed out, on any instance. */
  async has(session: EndableSession, nowMs = Date.now()): Promise<boolean> {
    if (this.seen.has(session.nonce)) return true;
    if (nowMs < this.retryAt) return false;
    let ended: boolean;
    try {
      ended = await this.store.sessionEnded(session.nonce);
    } catch (error) {
      if (!(error instanceof SourceStoreUnavailableError)) throw error;
      this.retryAt = nowMs + RETRY_STORE_MS;
      return false;
    }
    this.retryAt = 0;
    if (ended) this.remember(session, nowMs);
    return ended;
  }

  /** Ends the session everywhere; rejects (SourceStoreUnavailableError) when the store cannot record it. */
  async end(session: EndableSession, nowMs = Date.now()): Promise<void> {
    await this.store.endSession(session.nonce, session.expiresAtMs, nowMs);
    this.retryAt = 0; // (the store answers again)
    this.remember(session, nowMs);
  }

  /** sessions remembered here now */
  get remembered(): number {
    return this.seen.size;
  }

  private remember(session: EndableSession, nowMs: number): void {
    if (this.seen.size >= MAX_REMEMBERED_ENDED) {
      for (const [nonce, expiresAtMs] of this.seen) if (expiresAtMs <= nowMs) this.seen.delete(nonce);
      // Still full: the oldest go (the store still has them; only an outage would need them).
      for (const nonce of this.seen.keys()) {
        if (this.seen.size < MAX_REMEMBERED_ENDED) break;
        this.seen.delete(nonce);
      }
    }
    this.seen.set(session.nonce, session.expiresAtMs);
  }
}
