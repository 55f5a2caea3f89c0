import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import type { IpPolicy } from '@inlet/schema';
import { databaseFile, migrate, openPragmas } from '../sinks/sqlite-schema.ts';
import { newSourceId, newWriteKey } from './keys.ts';
import type { NewSource, Source, SourceStore } from './source-store.ts';

interface Row { id: string; name: string; write_key: string; ip_policy: IpPolicy; created_at: string; revoked_at: string | null }

const toSource = (row: Row): Source => ({
  id: row.id, name: row.name, writeKey: row.write_key, ipPolicy: row.ip_policy, createdAt: row.created_at, revokedAt: row.revoked_at,
});

/** Sources in the embedded SQLite file, beside the events. */
export class SqliteSourceStore implements SourceStore {
  readonly kind = 'embedded';
  private readonly db: Database.Database;
  private readonly byKey: Database.Statement<[string], Row>;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(databaseFile(dataDir));
    openPragmas(this.db);
    migrate(this.db);
    this.byKey = this.db.prepare('SELECT * FROM sources WHERE write_key = ?');
  }

  async findByWriteKey(writeKey: string): Promise<Source | undefined> {
    const row = this.byKey.get(writeKey);
    return row && toSource(row);
  }

  async create(input: NewSource): Promise<Source> {
    return this.#insert(input);
  }

  #insert(input: NewSource): Source {
    const source: Source = { id: newSourceId(), name: input.name, writeKey: newWriteKey(), ipPolicy: input.ipPolicy ?? 'full', createdAt: new Date().toISOString(), revokedAt: null };
    this.db.prepare('INSERT INTO sources (id, name, write_key, ip_policy, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(source.id, source.name, source.writeKey, source.ipPolicy, source.createdAt);
    return source;
  }

  async ensureDefault(): Promise<Source | undefined> {
    // IMMEDIATE takes the write lock up front, so two processes cannot both see an empty table.
    return this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM sources LIMIT 1').get()) this.#insert({ name: 'default' });
      const row = this.db.prepare<[], Row>("SELECT * FROM sources WHERE name = 'default' AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1").get();
      return row && toSource(row);
    }).immediate();
  }

  async list(): Promise<Source[]> {
    return this.db.prepare<[], Row>('SELECT * FROM sources ORDER BY created_at, id').all().map(toSource);
  }

  async revoke(id: string): Promise<boolean> {
    return this.db.prepare('UPDATE sources SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id).changes > 0;
  }

  async ready(): Promise<boolean> {
    return this.db.open;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
