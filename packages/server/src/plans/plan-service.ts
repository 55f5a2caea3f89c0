// What the admin API and the `inlet plans` commands both do with plans, in one place: put (checked,
// every schema compiled, then stored as the next version), get, history, delete, infer and typegen.
import { Errors } from '../errors.ts';
import type { Source, SourceStore } from '../sources/source-store.ts';
import { compilePlan } from './compiled-plan.ts';
import type { EventSamples, SampleResult } from './event-samples.ts';
import { PlanInference } from './infer.ts';
import { checkPlan, InvalidPlanError, MAX_PLAN_BYTES, parsePlan, PlanTooLargeError, type TrackingPlan } from './plan.ts';
import { summaryOf, type PlanSummary, type PlanVersion, type StoredPlan } from './plan-store.ts';
import { typegen } from './typegen.ts';

export interface InferResult extends SampleResult {
  plan: TrackingPlan;
  since: string;
  /** track event names left out (the plan had reached its limit of names) */
  namesLeftOut: number;
}

export interface PlanServiceOptions {
  sources: SourceStore;
  /** where infer reads events (undefined: infer is not available) */
  samples?: EventSamples;
  /** told after a put or delete (the server applies it at once, before the next poll) */
  onChange?(sourceId: string, version: number | undefined): void;
}

/** A plan refused: InvalidPlanError as the admin API's error. */
function refusal(error: unknown): unknown {
  if (error instanceof PlanTooLargeError) return Errors.planTooLarge(error.message);
  if (error instanceof InvalidPlanError) return Errors.invalidPlan(error.message);
  return error;
}

export class PlanService {
  readonly #o: PlanServiceOptions;

  constructor(options: PlanServiceOptions) {
    this.#o = options;
  }

  /** The source, or INLET_SOURCE_NOT_FOUND. */
  async source(sourceId: string): Promise<Source> {
    const source = (await this.#o.sources.list()).find((s) => s.id === sourceId);
    if (!source) throw Errors.sourceNotFound(sourceId);
    return source;
  }

  /** A plan document (JSON text, or a parsed value) checked and compiled; throws INLET_INVALID_PLAN / INLET_PLAN_TOO_LARGE with the reason. */
  async check(document: string | unknown): Promise<{ plan: TrackingPlan; json: string; summary: PlanSummary }> {
    try {
      const plan = typeof document === 'string' ? parsePlan(document) : checkPlan(document);
      const json = JSON.stringify(plan);
      if (Buffer.byteLength(json) > MAX_PLAN_BYTES) throw new PlanTooLargeError(`the plan is ${Buffer.byteLength(json)} bytes; the limit is ${MAX_PLAN_BYTES} (1 MiB)`);
      await compilePlan(plan);
      return { plan, json, summary: summaryOf(plan, json) };
    } catch (error) {
      throw refusal(error);
    }
  }

  async put(sourceId: string, document: string | unknown): Promise<PlanVersion> {
    await this.source(sourceId);
    const { plan, json } = await this.check(document);
    const version = await this.#o.sources.plans.put(sourceId, plan, json);
    this.#o.onChange?.(sourceId, version.version);
    return version;
  }

  async get(sourceId: string, version?: number): Promise<StoredPlan> {
    await this.source(sourceId);
    const stored = await this.#o.sources.plans.get(sourceId, version);
    if (!stored) throw Errors.planNotFound(version === undefined ? `source ${sourceId} has no plan` : `source ${sourceId} has no plan version ${version}`);
    return stored;
  }

  async history(sourceId: string): Promise<PlanVersion[]> {
    await this.source(sourceId);
    return this.#o.sources.plans.history(sourceId);
  }

  async delete(sourceId: string): Promise<PlanVersion> {
    await this.source(sourceId);
    const deleted = await this.#o.sources.plans.delete(sourceId);
    if (!deleted) throw Errors.planNotFound(`source ${sourceId} has no plan`);
    this.#o.onChange?.(sourceId, undefined);
    return deleted;
  }

  async infer(sourceId: string, sinceMs: number): Promise<InferResult> {
    await this.source(sourceId);
    if (!this.#o.samples) throw Errors.notAvailable('inferring a plan needs the events: the embedded store, or the Kafka sink');
    const inference = new PlanInference();
    const read = await this.#o.samples(sourceId, sinceMs, (event) => inference.add(event));
    const { plan, namesLeftOut } = inference.result();
    return { plan, since: new Date(sinceMs).toISOString(), ...read, namesLeftOut };
  }

  /** TypeScript for the plan (the current version, or the one asked for); INLET_PLAN_NOT_FOUND when there is none. */
  async typegen(sourceId: string, version?: number): Promise<string> {
    const stored = await this.get(sourceId, version);
    if (!stored.plan) throw Errors.planNotFound(`version ${stored.version} of the plan of ${sourceId} is a deletion`);
    return typegen(stored.plan, { sourceId, version: stored.version });
  }
}
