// Where tracking plans are kept: beside the sources (the embedded SQLite file, or PostgreSQL when
// instances share their sources), so every instance that knows a source knows its plan. Every put
// makes a new version; a delete is a version too (without a plan), so the history says when a
// source stopped being checked, and versions are never reused.
import { planEventCount, type TrackingPlan } from './plan.ts';

/** One version of a source's plan, without the document. */
export interface PlanVersion {
  sourceId: string;
  version: number;
  createdAt: string;
  /** true: this version removed the plan (the source is no longer checked) */
  deleted: boolean;
  /** the plan's modes and size (absent for a deletion) */
  summary?: PlanSummary;
}

export interface PlanSummary {
  unplanned: TrackingPlan['unplanned'];
  violations: TrackingPlan['violations'];
  /** named events, pages and screens */
  events: number;
  /** the plan's JSON, in bytes */
  bytes: number;
}

export interface StoredPlan extends PlanVersion {
  /** null for a deletion */
  plan: TrackingPlan | null;
}

export interface PlanStore {
  /** Stores `plan` as the source's next version. `json` is the plan as it is kept (JSON.stringify of `plan`). */
  put(sourceId: string, plan: TrackingPlan, json: string): Promise<PlanVersion>;
  /** The latest version (undefined when there is none, or the latest is a deletion), or the version asked for. */
  get(sourceId: string, version?: number): Promise<StoredPlan | undefined>;
  /** Every version, newest first. */
  history(sourceId: string): Promise<PlanVersion[]>;
  /** Records a deletion as the next version; undefined when the source has no plan to delete. */
  delete(sourceId: string): Promise<PlanVersion | undefined>;
  /** The current version of every source that has a plan (deleted plans left out): what instances poll. */
  heads(): Promise<Map<string, number>>;
}

export const summaryOf = (plan: TrackingPlan, json: string): PlanSummary => ({
  unplanned: plan.unplanned,
  violations: plan.violations,
  events: planEventCount(plan),
  bytes: Buffer.byteLength(json),
});

/** A row as both stores keep it. */
export interface PlanRow {
  source_id: string;
  version: number;
  created_at: string | Date;
  plan: string | null;
  summary: string | null;
}

export function versionOf(row: PlanRow): PlanVersion {
  return {
    sourceId: row.source_id,
    version: Number(row.version),
    createdAt: typeof row.created_at === 'string' ? row.created_at : row.created_at.toISOString(),
    deleted: row.plan === null,
    ...(row.summary === null ? {} : { summary: JSON.parse(row.summary) as PlanSummary }),
  };
}

export function storedOf(row: PlanRow): StoredPlan {
  return { ...versionOf(row), plan: row.plan === null ? null : JSON.parse(row.plan) as TrackingPlan };
}
