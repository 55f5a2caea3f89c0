import type { IpPolicy } from '@inlet/schema';
import type { PlanStore } from '../plans/plan-store.ts';

/**
 * Where a source's events come from. `browser` (the default): context.ip is the connection's
 * address, never the client's claim. `server`: a back end that forwards its end user's address
 * in context.ip, which is kept (as Segment keeps it for server libraries).
 */
export type SourceKind = 'browser' | 'server';
export const SOURCE_KINDS: readonly SourceKind[] = ['browser', 'server'];
export const IP_POLICIES: readonly IpPolicy[] = ['full', 'anonymize', 'drop'];
export const MAX_SOURCE_NAME_LENGTH = 100;

export interface Source {
  id: string;
  /** unique among active sources */
  name: string;
  kind: SourceKind;
  ipPolicy: IpPolicy;
  createdAt: string;
  revokedAt: string | null;
}

/**
 * A source with its write key: only what creates a key returns it (create, rotateKey, the first
 * ensureDefault). The stores keep the key's hash alone, so it cannot be shown again.
 */
export interface SourceWithKey extends Source {
  writeKey: string;
}

export interface NewSource {
  name: string;
  kind?: SourceKind;
  ipPolicy?: IpPolicy;
}

/** Thrown by create and rename when an active source already has that name. */
export class SourceNameTakenError extends Error {
  override name = 'SourceNameTakenError';
  readonly sourceName: string;

  constructor(sourceName: string) {
    super(`a source named "${sourceName}" already exists; choose another name`);
    this.sourceName = sourceName;
  }
}

/** Thrown by create and rename for a name, kind or IP policy that is not allowed. */
export class InvalidSourceError extends TypeError {
  override name = 'InvalidSourceError';
}

/** The name as stored (trimmed); InvalidSourceError saying what is wrong otherwise. */
export function checkSourceName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new InvalidSourceError('source name must be a non-empty string');
  const trimmed = name.trim();
  if (trimmed.length > MAX_SOURCE_NAME_LENGTH) throw new InvalidSourceError(`source name must be at most ${MAX_SOURCE_NAME_LENGTH} characters`);
  return trimmed;
}

/** A new source's settings with defaults applied; InvalidSourceError naming a wrong value. */
export function checkNewSource(input: NewSource): Required<NewSource> {
  const name = checkSourceName(input?.name);
  const kind = input.kind ?? 'browser';
  if (!SOURCE_KINDS.includes(kind)) throw new InvalidSourceError(`kind must be one of ${SOURCE_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  const ipPolicy = input.ipPolicy ?? 'full';
  if (!IP_POLICIES.includes(ipPolicy)) throw new InvalidSourceError(`ipPolicy must be one of ${IP_POLICIES.join(', ')}, got ${JSON.stringify(ipPolicy)}`);
  return { name, kind, ipPolicy };
}

/** The source `value` names: its id, or the name of an active source (names are unique among those), as every command takes it. */
export async function findSource(store: Pick<SourceStore, 'list'>, value: string): Promise<Source | undefined> {
  const all = await store.list();
  return all.find((s) => s.id === value) ?? all.find((s) => s.name === value && !s.revokedAt);
}

/** What happened to a source; `rotated` and `revoked` retire a key for good. */
export type SourceChangeKind = 'created' | 'renamed' | 'rotated' | 'revoked';

/** One entry of the sources' change log, which every instance polls to drop what it cached. */
export interface SourceChange {
  /** the log's counter: every change to a source takes the next one, in commit order */
  version: number;
  sourceId: string;
  kind: SourceChangeKind;
  /** the hash of the key that stopped working (rotated, revoked); null otherwise */
  retiredKeyHash: string | null;
}

/**
 * Sources and their write keys. Methods reject with SourceStoreUnavailableError when the backing
 * database cannot be reached (the request then gets 503: an unknown key might be valid).
 */
export interface SourceStore {
  readonly kind: string;
  /** The source whose write key has this hash (hashWriteKey), revoked or not (the caller checks revokedAt). */
  findByKeyHash(keyHash: string): Promise<Source | undefined>;
  /** Rejects with SourceNameTakenError when an active source has the name, InvalidSourceError on bad input. */
  create(input: NewSource): Promise<SourceWithKey>;
  /** A new write key for the active source with that id (the old key stops working); undefined when there is none. */
  rotateKey(id: string): Promise<SourceWithKey | undefined>;
  list(): Promise<Source[]>;
  /**
   * The active source named `default`, created first when the store has no sources at all (a
   * fresh install gets a write key at once). Atomic, so instances starting together on one empty
   * shared store agree on a single source. Its write key comes with it only when this call made it.
   */
  ensureDefault(): Promise<(Source & { writeKey?: string }) | undefined>;
  /**
   * The source with its new name, or undefined when no source has that id. Rejects with
   * SourceNameTakenError when another active source has the name, InvalidSourceError for a bad one.
   */
  rename(id: string, name: string): Promise<Source | undefined>;
  /** true when a source with that id existed and is now revoked */
  revoke(id: string): Promise<boolean>;
  /**
   * The change log after `since`, oldest first (a bounded page: call again from the version it
   * returns until no changes come), or with `since` undefined only the current version. Cheap: an
   * index range read, polled by each instance every second.
   */
  sourceChanges(since: number | undefined): Promise<{ version: number; changes: SourceChange[] }>;
  /** what checks the admin token (admin/token.ts: a one-way image of it), kept beside the sources so every instance shares it */
  adminTokenHash(): Promise<string | undefined>;
  /**
   * Stores what checks the admin token: only when there is none yet (`replace` false), whatever is
   * there (`replace` true), or only over `expected` (a string: compare-and-set). true when stored.
   */
  setAdminTokenHash(hash: string, replace: boolean | { expected: string }): Promise<boolean>;
  /**
   * Records that the console session with this nonce was signed out (admin/ended-sessions.ts),
   * until `expiresAtMs`, its cookie's own expiry; entries expired by `nowMs` are pruned in the same
   * write. Recording one twice is not an error.
   */
  endSession(nonce: string, expiresAtMs: number, nowMs?: number): Promise<void>;
  /** whether the console session with this nonce was signed out (a primary-key read, made per admin request) */
  sessionEnded(nonce: string): Promise<boolean>;
  /** the sources' tracking plans, kept beside them */
  readonly plans: PlanStore;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
