// Sources in the embedded SQLite file, beside the events.
import type Database from 'better-sqlite3';
import type { IpPolicy } from '@inlet/schema';
import { databaseFile, OpenedFile, openDatabase } from '../db/database.ts';
import { DatabaseGoneError } from '../errors.ts';
import { SqlitePlanStore } from '../plans/sqlite-plan-store.ts';
import { hashWriteKey, newSourceId, newWriteKey } from './keys.ts';
import { checkNewSource, checkSourceName, SourceNameTakenError, type NewSource, type Source, type SourceKind, type SourceChange, type SourceChangeKind, type SourceStore, type SourceWithKey } from './source-store.ts';

interface Row { id: string; name: string; kind: SourceKind; ip_policy: IpPolicy; created_at: string; revoked_at: string | null }

/** Every column but the key's hash, which never leaves the store. */
const COLUMNS = 'id, name, kind, ip_policy, created_at, revoked_at';

const toSource = (row: Row): Source => ({
  id: row.id, name: row.name, kind: row.kind, ipPolicy: row.ip_policy, createdAt: row.created_at, revokedAt: row.revoked_at,
});

/** The unique index on active names said no. */
const isNameTaken = (error: unknown) => (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && /sources\.name/.test((error as Error).message);

export class SqliteSourceStore implements SourceStore {
  readonly kind = 'embedded';
  private readonly db: Database.Database;
  readonly #file: OpenedFile;
  private readonly byKeyHash: Database.Statement<[string], Row>;
  private readonly sessionEndedRow: Database.Statement<[string], { 1: number }>;
  readonly plans: SqlitePlanStore;

  constructor(dataDir: string) {
    this.db = openDatabase(databaseFile(dataDir));
    try {
      this.#file = new OpenedFile(databaseFile(dataDir));
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.byKeyHash = this.db.prepare(`SELECT ${COLUMNS} FROM sources WHERE key_hash = ?`);
    this.sessionEndedRow = this.db.prepare('SELECT 1 FROM ended_sessions WHERE nonce = ?');
    this.plans = new SqlitePlanStore(this.db, (change) => this.#write(change));
  }

  /**
   * One IMMEDIATE transaction (the write lock up front, so two processes cannot both see the same
   * state), refused once the file is gone: a source made or a key rotated there would be shown
   * once and lost at the next start, as the writer thread refuses events (OpenedFile).
   */
  #write<T>(change: () => T): T {
    this.#refuseIfGone();
    const result = this.db.transaction(change).immediate();
    // (deleted while it committed)
    this.#refuseIfGone();
    return result;
  }

  #refuseIfGone(): void {
    if (this.#file.gone) throw new DatabaseGoneError(this.#file.goneMessage);
  }

  async findByKeyHash(keyHash: string): Promise<Source | undefined> {
    const row = this.byKeyHash.get(keyHash);
    return row && toSource(row);
  }

  async create(input: NewSource): Promise<SourceWithKey> {
    const checked = checkNewSource(input);
    return this.#write(() => this.#insert(checked));
  }

  /** Logs a change, in the caller's transaction: the counter moves with the change or not at all. */
  #logChange(sourceId: string, kind: SourceChangeKind, retiredKeyHash: string | null = null): void {
    this.db.prepare('INSERT INTO source_changes (source_id, kind, retired_key_hash, changed_at) VALUES (?, ?, ?, ?)').run(sourceId, kind, retiredKeyHash, new Date().toISOString());
  }

  async sourceChanges(since: number | undefined): Promise<{ version: number; changes: SourceChange[] }> {
    if (since === undefined) return { version: this.db.prepare<[], { v: number }>('SELECT COALESCE(MAX(version), 0) AS v FROM source_changes').get()!.v, changes: [] };
    const rows = this.db.prepare<[number], { version: number; source_id: string; kind: SourceChangeKind; retired_key_hash: string | null }>(
      'SELECT version, source_id, kind, retired_key_hash FROM source_changes WHERE version > ? ORDER BY version LIMIT 1000',
    ).all(since);
    return {
      version: rows.length ? rows[rows.length - 1].version : since,
      changes: rows.map((r) => ({ version: r.version, sourceId: r.source_id, kind: r.kind, retiredKeyHash: r.retired_key_hash })),
    };
  }

  /** The key hash of the active source with that id. */
  #activeKeyHash(id: string): string | undefined {
    return this.db.prepare<[string], { key_hash: string }>('SELECT key_hash FROM sources WHERE id = ? AND revoked_at IS NULL').get(id)?.key_hash;
  }

  #insert(input: Required<NewSource>): SourceWithKey {
    const source: SourceWithKey = { id: newSourceId(), name: input.name, kind: input.kind, ipPolicy: input.ipPolicy, createdAt: new Date().toISOString(), revokedAt: null, writeKey: newWriteKey() };
    try {
      this.db.prepare('INSERT INTO sources (id, name, key_hash, kind, ip_policy, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(source.id, source.name, hashWriteKey(source.writeKey), source.kind, source.ipPolicy, source.createdAt);
      this.#logChange(source.id, 'created');
    } catch (error) {
      if (isNameTaken(error)) throw new SourceNameTakenError(source.name);
      throw error;
    }
    return source;
  }

  async ensureDefault(): Promise<(Source & { writeKey?: string }) | undefined> {
    // (IMMEDIATE: two processes cannot both see an empty table.)
    return this.#write(() => {
      if (!this.db.prepare('SELECT 1 FROM sources LIMIT 1').get()) return this.#insert({ name: 'default', kind: 'browser', ipPolicy: 'full' });
      const row = this.db.prepare<[], Row>(`SELECT ${COLUMNS} FROM sources WHERE name = 'default' AND revoked_at IS NULL ORDER BY created_at, rowid LIMIT 1`).get();
      return row && toSource(row);
    });
  }

  async list(): Promise<Source[]> {
    // Sources made within one millisecond share created_at, and ids are random: rowid keeps the order they were made in.
    return this.db.prepare<[], Row>(`SELECT ${COLUMNS} FROM sources ORDER BY created_at, rowid`).all().map(toSource);
  }

  async rotateKey(id: string): Promise<SourceWithKey | undefined> {
    const writeKey = newWriteKey();
    return this.#write(() => {
      const old = this.#activeKeyHash(id);
      if (old === undefined) return undefined;
      const row = this.db.prepare<[string, string], Row>(`UPDATE sources SET key_hash = ? WHERE id = ? RETURNING ${COLUMNS}`).get(hashWriteKey(writeKey), id)!;
      this.#logChange(id, 'rotated', old);
      return { ...toSource(row), writeKey };
    });
  }

  async rename(id: string, name: string): Promise<Source | undefined> {
    const newName = checkSourceName(name);
    let row: Row | undefined;
    try {
      row = this.#write(() => {
        const renamed = this.db.prepare<[string, string], Row>(`UPDATE sources SET name = ? WHERE id = ? RETURNING ${COLUMNS}`).get(newName, id);
        if (renamed) this.#logChange(id, 'renamed');
        return renamed;
      });
    } catch (error) {
      if (isNameTaken(error)) throw new SourceNameTakenError(newName);
      throw error;
    }
    return row && toSource(row);
  }

  async revoke(id: string): Promise<boolean> {
    return this.#write(() => {
      const keyHash = this.#activeKeyHash(id);
      if (keyHash === undefined) return false;
      this.db.prepare('UPDATE sources SET revoked_at = ? WHERE id = ?').run(new Date().toISOString(), id);
      this.#logChange(id, 'revoked', keyHash);
      return true;
    });
  }

  async adminTokenHash(): Promise<string | undefined> {
    return this.db.prepare<[], { value: string }>("SELECT value FROM settings WHERE name = 'admin_token_sha256'").get()?.value;
  }

  async setAdminTokenHash(hash: string, replace: boolean | { expected: string }): Promise<boolean> {
    if (typeof replace === 'object') {
      return this.#write(() => this.db.prepare("UPDATE settings SET value = ? WHERE name = 'admin_token_sha256' AND value = ?").run(hash, replace.expected).changes > 0);
    }
    const sql = replace
      ? "INSERT INTO settings (name, value) VALUES ('admin_token_sha256', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
      : "INSERT INTO settings (name, value) VALUES ('admin_token_sha256', ?) ON CONFLICT (name) DO NOTHING";
    return this.#write(() => this.db.prepare(sql).run(hash).changes > 0);
  }

  async endSession(nonce: string, expiresAtMs: number, nowMs = Date.now()): Promise<void> {
    this.#write(() => {
      this.db.prepare('DELETE FROM ended_sessions WHERE expires_at <= ?').run(nowMs);
      this.db.prepare('INSERT INTO ended_sessions (nonce, expires_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING').run(nonce, expiresAtMs);
    });
  }

  async sessionEnded(nonce: string): Promise<boolean> {
    return this.sessionEndedRow.get(nonce) !== undefined;
  }

  async ready(): Promise<boolean> {
    return this.db.open;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
