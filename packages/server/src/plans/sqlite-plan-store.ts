// Tracking plans in the embedded SQLite file, on the source store's connection (the table is made
// by the database's migrations). A put or delete reads the latest version and writes the next in
// one IMMEDIATE transaction, so two processes cannot both take the same number; the source store
// runs it (`write`), which also refuses it once the file is gone.
import type Database from 'better-sqlite3';
import type { TrackingPlan } from './plan.ts';
import { storedOf, summaryOf, versionOf, type PlanRow, type PlanStore, type PlanVersion, type StoredPlan } from './plan-store.ts';

const VERSION_COLUMNS = 'source_id, version, created_at, plan IS NULL AS deleted, summary';

interface VersionRow { source_id: string; version: number; created_at: string; deleted: number; summary: string | null }

const toVersion = (row: VersionRow): PlanVersion => versionOf({ ...row, plan: row.deleted ? null : '' });

export class SqlitePlanStore implements PlanStore {
  readonly #db: Database.Database;
  readonly #write: <T>(change: () => T) => T;

  constructor(db: Database.Database, write: <T>(change: () => T) => T) {
    this.#db = db;
    this.#write = write;
  }

  #next(sourceId: string, plan: string | null, summary: string | null): PlanVersion {
    const latest = this.#db.prepare<[string], { version: number | null }>('SELECT max(version) AS version FROM plans WHERE source_id = ?').get(sourceId)?.version ?? 0;
    const row: PlanRow = { source_id: sourceId, version: latest + 1, created_at: new Date().toISOString(), plan, summary };
    this.#db.prepare('INSERT INTO plans (source_id, version, created_at, plan, summary) VALUES (?, ?, ?, ?, ?)').run(row.source_id, row.version, row.created_at, row.plan, row.summary);
    return versionOf(row);
  }

  async put(sourceId: string, plan: TrackingPlan, json: string): Promise<PlanVersion> {
    return this.#write(() => this.#next(sourceId, json, JSON.stringify(summaryOf(plan, json))));
  }

  async get(sourceId: string, version?: number): Promise<StoredPlan | undefined> {
    const row = version === undefined
      ? this.#db.prepare<[string], PlanRow>('SELECT * FROM plans WHERE source_id = ? ORDER BY version DESC LIMIT 1').get(sourceId)
      : this.#db.prepare<[string, number], PlanRow>('SELECT * FROM plans WHERE source_id = ? AND version = ?').get(sourceId, version);
    if (!row || (version === undefined && row.plan === null)) return undefined;
    return storedOf(row);
  }

  async history(sourceId: string): Promise<PlanVersion[]> {
    return this.#db.prepare<[string], VersionRow>(`SELECT ${VERSION_COLUMNS} FROM plans WHERE source_id = ? ORDER BY version DESC`).all(sourceId).map(toVersion);
  }

  async delete(sourceId: string): Promise<PlanVersion | undefined> {
    return this.#write(() => {
      const latest = this.#db.prepare<[string], { deleted: number }>('SELECT plan IS NULL AS deleted FROM plans WHERE source_id = ? ORDER BY version DESC LIMIT 1').get(sourceId);
      if (!latest || latest.deleted) return undefined;
      return this.#next(sourceId, null, null);
    });
  }

  async heads(): Promise<Map<string, number>> {
    // SQLite takes the bare column `plan IS NULL` from the row holding max(version).
    const rows = this.#db.prepare<[], { source_id: string; version: number; deleted: number }>('SELECT source_id, max(version) AS version, plan IS NULL AS deleted FROM plans GROUP BY source_id').all();
    return new Map(rows.filter((r) => !r.deleted).map((r) => [r.source_id, r.version]));
  }
}
