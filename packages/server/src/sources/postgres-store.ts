// Sources in PostgreSQL, shared by every server instance. Every call is bounded: when the database
// cannot be reached it rejects with SourceStoreUnavailableError within about connectTimeoutMs +
// queryTimeoutMs + 250 ms, so a request gets a 503 instead of hanging.
import pg from 'pg';
import type { IpPolicy } from '@inlet/schema';
import { checkSettings, integer, text, url } from '@inlet/schema/settings';
import { SourceStoreUnavailableError } from '../errors.ts';
import { migratePlans, PLANS_TABLE, PostgresPlanStore } from '../plans/postgres-plan-store.ts';
import { hashWriteKey, newSourceId, newWriteKey } from './keys.ts';
import { checkNewSource, checkSourceName, SourceNameTakenError, type NewSource, type Source, type SourceKind, type SourceChange, type SourceChangeKind, type SourceStore, type SourceWithKey } from './source-store.ts';

export interface PostgresSourceStoreOptions {
  /** postgres://user[:password]@host[:port]/database */
  connectionString: string;
  /** schema holding the table (created when missing); default `public` */
  schema?: string;
  logger?: { warn(message: string): void };
  /** bound on getting a connection (default 1000 ms) */
  connectTimeoutMs?: number;
  /** bound on one query (default 2000 ms; ready() uses at most 1000 ms) */
  queryTimeoutMs?: number;
  /** most connections this instance opens (default 10) */
  maxConnections?: number;
}

const TABLE = 'inlet_sources';
/** Names are unique among active sources (a partial unique index). */
const ACTIVE_NAME_INDEX = 'inlet_sources_active_name';
/** Every column but the key's hash, which never leaves the store. */
const COLUMNS = 'id, name, kind, ip_policy, created_at, revoked_at';
const SETTINGS_TABLE = 'inlet_settings';
/** The sources' change log: every instance polls its counter to drop keys rotated or revoked elsewhere. */
const CHANGES_TABLE = 'inlet_source_changes';
/** Console sessions signed out before their expiry (admin/ended-sessions.ts), beside the admin token. */
const ENDED_SESSIONS_TABLE = 'inlet_ended_sessions';

interface Row { id: string; name: string; kind: SourceKind; ip_policy: IpPolicy; created_at: Date; revoked_at: Date | null }

const toSource = (row: Row): Source => ({
  id: row.id,
  name: row.name,
  kind: row.kind,
  ipPolicy: row.ip_policy,
  createdAt: row.created_at.toISOString(),
  revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
});

// SQLSTATE classes that mean "the database is not there for us right now" rather than "this
// query is wrong": connection exception, insufficient resources, operator intervention (shutdown,
// statement_timeout), system error.
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);

const OPTIONS = {
  connectionString: url(['postgres:', 'postgresql:'], 'a postgres:// URL'),
  schema: text({ pattern: /^[A-Za-z_][A-Za-z0-9_]{0,62}$/, expects: 'a plain identifier (letters, digits, _)' }).default('public'),
  connectTimeoutMs: integer(1).default(1000),
  queryTimeoutMs: integer(1).default(2000),
  maxConnections: integer(1).default(10),
};

export class PostgresSourceStore implements SourceStore {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #settings: string;
  readonly #schema: string;
  readonly #where: string;
  readonly #readyTimeoutMs: number;
  readonly #plansTable: string;
  readonly #changes: string;
  readonly #endedSessions: string;
  readonly plans: PostgresPlanStore;
  #closed = false;

  /** Opens the pool and runs the (idempotent) migration. Rejects when the database is unreachable. */
  static async open(options: PostgresSourceStoreOptions): Promise<PostgresSourceStore> {
    const store = new PostgresSourceStore(options);
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      // At start, a database that is not there for Inlet (it does not exist, the password or a
      // privilege is wrong) stops the server as an unreachable one does: saying where, and why.
      if (error instanceof pg.DatabaseError) {
        throw new SourceStoreUnavailableError(`PostgreSQL at ${store.#where} cannot be used: ${error.message} (SQLSTATE ${error.code})`, { cause: error });
      }
      throw error;
    }
    return store;
  }

  /** Prefer open(): the constructor neither connects nor creates the table. */
  constructor(options: PostgresSourceStoreOptions) {
    const { connectionString, schema, connectTimeoutMs, queryTimeoutMs, maxConnections: max } = checkSettings(OPTIONS,
      { connectionString: options.connectionString, schema: options.schema, connectTimeoutMs: options.connectTimeoutMs, queryTimeoutMs: options.queryTimeoutMs, maxConnections: options.maxConnections },
      { label: 'PostgreSQL source store' });
    const url = new URL(connectionString);

    this.#schema = schema;
    this.#table = `"${schema}".${TABLE}`;
    this.#settings = `"${schema}".${SETTINGS_TABLE}`;
    this.#plansTable = `"${schema}".${PLANS_TABLE}`;
    this.#changes = `"${schema}".${CHANGES_TABLE}`;
    this.#endedSessions = `"${schema}".${ENDED_SESSIONS_TABLE}`;
    this.plans = new PostgresPlanStore({
      table: this.#plansTable,
      schema,
      query: (text, values) => this.#query(text, values),
      transaction: (lock, work) => this.#transaction(lock, work),
    });
    // Never the password: this string goes into errors and logs.
    this.#where = `${url.hostname}:${url.port || 5432}${url.pathname}`;
    this.#readyTimeoutMs = Math.min(queryTimeoutMs, 1000);
    this.#pool = new pg.Pool({
      connectionString: options.connectionString,
      max,
      connectionTimeoutMillis: connectTimeoutMs,
      // The server cancels a slow statement itself (the connection stays usable); the client-side
      // bound, a little later, covers a database that accepted the socket and went silent (pg-pool
      // then discards that connection).
      statement_timeout: queryTimeoutMs,
      query_timeout: queryTimeoutMs + 250,
      keepAlive: true,
      idleTimeoutMillis: 30_000,
    });
    const logger = options.logger ?? console;
    // An idle client losing its connection emits here; without a listener it would end the process.
    this.#pool.on('error', (err) => logger.warn(`PostgreSQL source store: idle connection to ${this.#where} failed (${err.message})`));
  }

  /**
   * Creates the schema and table when missing and upgrades a table an older version made (the
   * `kind` column; unique active names, renaming older duplicates to `name (id)`, the oldest keeping
   * its name), with the settings, ended console sessions and tracking plans tables. Idempotent,
   * and safe to run from several instances at once.
   */
  async migrate(): Promise<void> {
    await this.#transaction(`inlet:migrate:${this.#schema}`, async (client) => {
      // CREATE SCHEMA checks the CREATE privilege even when the schema exists, so skip it then.
      const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.#schema]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.#table} (
          id text PRIMARY KEY,
          name text NOT NULL,
          key_hash text UNIQUE NOT NULL,
          kind text NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'server')),
          ip_policy text NOT NULL CHECK (ip_policy IN ('full', 'anonymize', 'drop')),
          created_at timestamptz NOT NULL DEFAULT now(),
          revoked_at timestamptz
        )`);
      await client.query(`ALTER TABLE ${this.#table} ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'browser' CHECK (kind IN ('browser', 'server'))`);
      const indexed = await client.query('SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [this.#schema, ACTIVE_NAME_INDEX]);
      if (indexed.rowCount === 0) {
        await client.query(`
          UPDATE ${this.#table} AS s SET name = s.name || ' (' || s.id || ')'
          FROM ${this.#table} AS older
          WHERE s.revoked_at IS NULL AND older.revoked_at IS NULL AND older.name = s.name
            AND (older.created_at, older.id) < (s.created_at, s.id)`);
        await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${ACTIVE_NAME_INDEX} ON ${this.#table} (name) WHERE revoked_at IS NULL`);
      }
      await this.#hashKeys(client);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.#changes} (
          version bigint PRIMARY KEY,
          source_id text NOT NULL,
          kind text NOT NULL CHECK (kind IN ('created', 'renamed', 'rotated', 'revoked')),
          retired_key_hash text,
          changed_at timestamptz NOT NULL DEFAULT now()
        )`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#settings} (name text PRIMARY KEY, value text NOT NULL)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#endedSessions} (nonce text PRIMARY KEY, expires_at timestamptz NOT NULL)`);
      await client.query(`CREATE INDEX IF NOT EXISTS ${ENDED_SESSIONS_TABLE}_expiry ON ${this.#endedSessions} (expires_at)`);
      await migratePlans(client, this.#plansTable);
    });
  }

  /**
   * A table from before keys were hashed has a write_key column: each key's SHA-256 goes into
   * key_hash (hex, as hashWriteKey makes it) and the plain column is dropped, all in the migration's
   * transaction, so no instance ever sees the table half done.
   */
  async #hashKeys(client: pg.PoolClient): Promise<void> {
    const plain = await client.query("SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = 'write_key'", [this.#schema, TABLE]);
    if (plain.rowCount === 0) return;
    await client.query(`ALTER TABLE ${this.#table} ADD COLUMN IF NOT EXISTS key_hash text`);
    await client.query(`UPDATE ${this.#table} SET key_hash = encode(sha256(convert_to(write_key, 'UTF8')), 'hex') WHERE key_hash IS NULL`);
    await client.query(`ALTER TABLE ${this.#table} ALTER COLUMN key_hash SET NOT NULL`);
    await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${TABLE}_key_hash ON ${this.#table} (key_hash)`);
    await client.query(`ALTER TABLE ${this.#table} DROP COLUMN write_key`);
    // DROP COLUMN only hides the column: every row kept its key's bytes in the table's file (so in
    // each physical backup and replica) until the table is rewritten. CLUSTER rewrites it, without
    // them, inside this transaction (VACUUM FULL cannot run in one); the clustering is not kept.
    await client.query(`CLUSTER ${this.#table} USING ${TABLE}_key_hash`);
    await client.query(`ALTER TABLE ${this.#table} SET WITHOUT CLUSTER`);
  }

  async ensureDefault(): Promise<(Source & { writeKey?: string }) | undefined> {
    return this.#transaction(`inlet:default:${this.#schema}`, async (client) => {
      const any = await client.query(`SELECT 1 FROM ${this.#table} LIMIT 1`);
      if (any.rowCount === 0) {
        const writeKey = newWriteKey();
        const { rows } = await client.query<Row>(`INSERT INTO ${this.#table} (id, name, key_hash, ip_policy) VALUES ($1, 'default', $2, 'full') RETURNING ${COLUMNS}`, [newSourceId(), hashWriteKey(writeKey)]);
        await this.#logChange(client, rows[0].id, 'created');
        return { ...toSource(rows[0]), writeKey };
      }
      const { rows } = await client.query<Row>(`SELECT ${COLUMNS} FROM ${this.#table} WHERE name = 'default' AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1`);
      return rows[0] && toSource(rows[0]);
    });
  }

  /**
   * Runs `work` in one transaction holding an advisory lock named `lock`: instances doing the same
   * thing at once (migrating, creating the default source) take turns instead of colliding.
   */
  async #transaction<T>(lock: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#guard(() => this.#pool.connect());
    try {
      return await this.#guard(async () => {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock]);
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      });
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** The source whose write key has this hash, revoked or not (the caller checks revokedAt). */
  async findByKeyHash(keyHash: string): Promise<Source | undefined> {
    const { rows } = await this.#query<Row>(`SELECT ${COLUMNS} FROM ${this.#table} WHERE key_hash = $1`, [keyHash]);
    return rows[0] && toSource(rows[0]);
  }

  async create(input: NewSource): Promise<SourceWithKey> {
    const { name, kind, ipPolicy } = checkNewSource(input);
    const writeKey = newWriteKey();
    return this.#named(name, () => this.#transaction(this.#changeLock, async (client) => {
      const { rows } = await client.query<Row>(
        `INSERT INTO ${this.#table} (id, name, key_hash, kind, ip_policy) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
        [newSourceId(), name, hashWriteKey(writeKey), kind, ipPolicy],
      );
      await this.#logChange(client, rows[0].id, 'created');
      return { ...toSource(rows[0]), writeKey };
    }));
  }

  async rotateKey(id: string): Promise<SourceWithKey | undefined> {
    const writeKey = newWriteKey();
    return this.#transaction(this.#changeLock, async (client) => {
      const old = await client.query<{ key_hash: string }>(`SELECT key_hash FROM ${this.#table} WHERE id = $1 AND revoked_at IS NULL FOR UPDATE`, [id]);
      if (old.rowCount === 0) return undefined;
      const { rows } = await client.query<Row>(`UPDATE ${this.#table} SET key_hash = $1 WHERE id = $2 RETURNING ${COLUMNS}`, [hashWriteKey(writeKey), id]);
      await this.#logChange(client, id, 'rotated', old.rows[0].key_hash);
      return { ...toSource(rows[0]), writeKey };
    });
  }

  async rename(id: string, name: string): Promise<Source | undefined> {
    const newName = checkSourceName(name);
    return this.#named(newName, () => this.#transaction(this.#changeLock, async (client) => {
      const { rows } = await client.query<Row>(`UPDATE ${this.#table} SET name = $1 WHERE id = $2 RETURNING ${COLUMNS}`, [newName, id]);
      if (rows[0]) await this.#logChange(client, id, 'renamed');
      return rows[0] && toSource(rows[0]);
    }));
  }

  /**
   * Every change takes this advisory lock (then the next version, inside it): versions are given
   * out in commit order, so a poller that has read version N has seen every change up to N.
   * (A sequence would not do: a later number can commit first and be read before an earlier one.)
   */
  get #changeLock(): string {
    return `inlet:source-changes:${this.#schema}`;
  }

  async #logChange(client: pg.PoolClient, sourceId: string, kind: SourceChangeKind, retiredKeyHash: string | null = null): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.#changeLock]);
    await client.query(
      `INSERT INTO ${this.#changes} (version, source_id, kind, retired_key_hash) SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3 FROM ${this.#changes}`,
      [sourceId, kind, retiredKeyHash],
    );
  }

  async sourceChanges(since: number | undefined): Promise<{ version: number; changes: SourceChange[] }> {
    if (since === undefined) {
      const { rows } = await this.#query<{ v: string }>(`SELECT COALESCE(MAX(version), 0) AS v FROM ${this.#changes}`);
      return { version: Number(rows[0].v), changes: [] };
    }
    const { rows } = await this.#query<{ version: string; source_id: string; kind: SourceChangeKind; retired_key_hash: string | null }>(
      `SELECT version, source_id, kind, retired_key_hash FROM ${this.#changes} WHERE version > $1 ORDER BY version LIMIT 1000`, [since],
    );
    const changes = rows.map((r) => ({ version: Number(r.version), sourceId: r.source_id, kind: r.kind, retiredKeyHash: r.retired_key_hash }));
    return { version: changes.length ? changes[changes.length - 1].version : since, changes };
  }

  /** Runs a write that sets `name`; the unique index saying no becomes SourceNameTakenError. */
  async #named<T>(name: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof pg.DatabaseError && error.code === '23505' && error.constraint === ACTIVE_NAME_INDEX) throw new SourceNameTakenError(name);
      throw error;
    }
  }

  async list(): Promise<Source[]> {
    const { rows } = await this.#query<Row>(`SELECT ${COLUMNS} FROM ${this.#table} ORDER BY created_at, id`);
    return rows.map(toSource);
  }

  /** true when an active source with that id was revoked by this call */
  async revoke(id: string): Promise<boolean> {
    return this.#transaction(this.#changeLock, async (client) => {
      const { rows } = await client.query<{ key_hash: string }>(`UPDATE ${this.#table} SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING key_hash`, [id]);
      if (!rows[0]) return false;
      await this.#logChange(client, id, 'revoked', rows[0].key_hash);
      return true;
    });
  }

  async adminTokenHash(): Promise<string | undefined> {
    const { rows } = await this.#query<{ value: string }>(`SELECT value FROM ${this.#settings} WHERE name = 'admin_token_sha256'`);
    return rows[0]?.value;
  }

  async setAdminTokenHash(hash: string, replace: boolean | { expected: string }): Promise<boolean> {
    if (typeof replace === 'object') {
      const result = await this.#query(`UPDATE ${this.#settings} SET value = $1 WHERE name = 'admin_token_sha256' AND value = $2`, [hash, replace.expected]);
      return (result.rowCount ?? 0) > 0;
    }
    const onConflict = replace ? 'DO UPDATE SET value = excluded.value' : 'DO NOTHING';
    const result = await this.#query(`INSERT INTO ${this.#settings} (name, value) VALUES ('admin_token_sha256', $1) ON CONFLICT (name) ${onConflict}`, [hash]);
    return (result.rowCount ?? 0) > 0;
  }

  async endSession(nonce: string, expiresAtMs: number, nowMs = Date.now()): Promise<void> {
    // One statement: the prune and the insert commit together. Expiry is by Inlet's clock (the
    // cookie's), not the database's.
    await this.#query(
      `WITH pruned AS (DELETE FROM ${this.#endedSessions} WHERE expires_at <= $3)
       INSERT INTO ${this.#endedSessions} (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING`,
      [nonce, new Date(expiresAtMs), new Date(nowMs)],
    );
  }

  async sessionEnded(nonce: string): Promise<boolean> {
    const { rowCount } = await this.#query(`SELECT 1 FROM ${this.#endedSessions} WHERE nonce = $1`, [nonce]);
    return (rowCount ?? 0) > 0;
  }

  /** true when the database answers a trivial query within a short bound. Never rejects. */
  async ready(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#pool.query({ text: 'SELECT 1', query_timeout: this.#readyTimeoutMs } as pg.QueryConfig);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  #query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.#guard(() => this.#pool.query<R>(text, values));
  }

  async #guard<T>(run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new SourceStoreUnavailableError('PostgreSQL source store is closed');
    try {
      return await run();
    } catch (error) {
      if (error instanceof pg.DatabaseError && !UNAVAILABLE_CLASSES.has(String(error.code).slice(0, 2))) throw error;
      throw new SourceStoreUnavailableError(`PostgreSQL at ${this.#where} is unavailable: ${(error as Error).message}`, { cause: error });
    }
  }
}
