import type { IpPolicy } from '@inlet/schema';

export interface Source {
  id: string;
  name: string;
  writeKey: string;
  ipPolicy: IpPolicy;
  createdAt: string;
  revokedAt: string | null;
}

export interface NewSource {
  name: string;
  ipPolicy?: IpPolicy;
}

/**
 * Sources and their write keys. Methods reject with SourceStoreUnavailableError when the backing
 * database cannot be reached (the request then gets 503: an unknown key might be valid).
 */
export interface SourceStore {
  readonly kind: string;
  findByWriteKey(writeKey: string): Promise<Source | undefined>;
  create(input: NewSource): Promise<Source>;
  list(): Promise<Source[]>;
  /**
   * The active source named `default`, created first when the store has no sources at all (a
   * fresh install gets a write key at once). Atomic, so instances starting together on one empty
   * shared store agree on a single source.
   */
  ensureDefault(): Promise<Source | undefined>;
  /** true when a source with that id existed and is now revoked */
  revoke(id: string): Promise<boolean>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}
