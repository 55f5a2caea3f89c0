// Tracking plans in PostgreSQL, beside the sources every instance shares. The table is made by
// the source store's migration (idempotent, under its advisory lock); a put or delete takes an
// advisory lock per source, so concurrent puts from several instances get consecutive versions.
import type pg from 'pg';
import type { TrackingPlan } from './plan.ts';
import { storedOf, summaryOf, versionOf, type PlanRow, type PlanStore, type PlanVersion, type StoredPlan } from './plan-store.ts';

export const PLANS_TABLE = 'inlet_plans';

/** Creates the plans table when missing (run inside the source store's migration transaction). */
export async function migratePlans(client: pg.PoolClient, table: string): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${table} (
      source_id text NOT NULL,
      version integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      plan text,
      summary text,
      PRIMARY KEY (source_id, version)
    )`);
}

export interface PostgresPlanStoreOptions {
  /** the schema-qualified table */
  table: string;
  /** the schema, for advisory lock names */
  schema: string;
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  transaction<T>(lock: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

const VERSION_COLUMNS = 'source_id, version, created_at, CASE WHEN plan IS NULL THEN NULL ELSE \'\' END AS plan, summary';

export class PostgresPlanStore implements PlanStore {
  readonly #o: PostgresPlanStoreOptions;

  constructor(options: PostgresPlanStoreOptions) {
    this.#o = options;
  }

  async #next(client: pg.PoolClient, sourceId: string, plan: string | null, summary: string | null): Promise<PlanVersion> {
    const { rows } = await client.query<PlanRow>(
      `INSERT INTO ${this.#o.table} (source_id, version, plan, summary)
       SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM ${this.#o.table} WHERE source_id = $1
       RETURNING ${VERSION_COLUMNS}`,
      [sourceId, plan, summary],
    );
    return versionOf(rows[0]);
  }

  put(sourceId: string, plan: TrackingPlan, json: string): Promise<PlanVersion> {
    return this.#o.transaction(`inlet:plan:${this.#o.schema}:${sourceId}`, (client) => this.#next(client, sourceId, json, JSON.stringify(summaryOf(plan, json))));
  }

  async get(sourceId: string, version?: number): Promise<StoredPlan | undefined> {
    const { rows } = version === undefined
      ? await this.#o.query<PlanRow>(`SELECT * FROM ${this.#o.table} WHERE source_id = $1 ORDER BY version DESC LIMIT 1`, [sourceId])
      : await this.#o.query<PlanRow>(`SELECT * FROM ${this.#o.table} WHERE source_id = $1 AND version = $2`, [sourceId, version]);
    const row = rows[0];
    if (!row || (version === undefined && row.plan === null)) return undefined;
    return storedOf(row);
  }

  async history(sourceId: string): Promise<PlanVersion[]> {
    const { rows } = await this.#o.query<PlanRow>(`SELECT ${VERSION_COLUMNS} FROM ${this.#o.table} WHERE source_id = $1 ORDER BY version DESC`, [sourceId]);
    return rows.map(versionOf);
  }

  delete(sourceId: string): Promise<PlanVersion | undefined> {
    return this.#o.transaction(`inlet:plan:${this.#o.schema}:${sourceId}`, async (client) => {
      const { rows } = await client.query<{ deleted: boolean }>(`SELECT plan IS NULL AS deleted FROM ${this.#o.table} WHERE source_id = $1 ORDER BY version DESC LIMIT 1`, [sourceId]);
      if (!rows[0] || rows[0].deleted) return undefined;
      return this.#next(client, sourceId, null, null);
    });
  }

  async heads(): Promise<Map<string, number>> {
    const { rows } = await this.#o.query<{ source_id: string; version: number; deleted: boolean }>(
      `SELECT DISTINCT ON (source_id) source_id, version, plan IS NULL AS deleted FROM ${this.#o.table} ORDER BY source_id, version DESC`,
    );
    return new Map(rows.filter((r) => !r.deleted).map((r) => [r.source_id, r.version]));
  }
}
