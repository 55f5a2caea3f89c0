// A plan made ready to check events: one ajv instance per (source, version), each event's schema
// compiled the first time an event of that name arrives (a 2,000-event plan costs only the events
// a source actually sends), then kept. `compilePlan` at put time compiles every schema, against
// the draft 2020-12 meta-schema, so a plan that would fail later is refused with the reason now.
// ajv never loads a schema from anywhere (no loadSchema: a remote $ref is refused), never changes
// an event (no defaults, no coercion), runs patterns on RE2 (./regexp.ts) and checks the url
// format in linear time (./url-format.ts).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import type { InletEvent, NormalizedRecord } from '@inlet/schema';
import { findEndlessRef } from './endless-refs.ts';
import { subschemas } from './subschemas.ts';
import { InvalidPlanError, type JsonSchema, type TrackingPlan, type Violation } from './plan.ts';
import { ajvRegExpEngine } from './regexp.ts';
import { urlFormat } from './url-format.ts';
import { shorten } from '../shorten.ts';

/** Violations kept per event: an array of 5,000 wrong items is one problem, not 5,000. */
export const MAX_VIOLATIONS = 20;
/** uniqueItems compares every pair of items unless they are typed as scalars: arrays longer than this must not reach it. */
const MAX_UNIQUE_ITEMS = 100;

// ajv-formats is CommonJS: its function is the module itself, or its `default` where a bundler wraps it.
const addFormats = ((ajvFormats as unknown as { default?: typeof ajvFormats }).default ?? ajvFormats) as unknown as (ajv: Ajv2020, options: { mode: 'fast' }) => void;

function newAjv(validateSchema: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true,
    // Unknown keywords and formats are errors: "requird" is a typo, not an annotation.
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    // Checked against the meta-schema when the plan is put; instances compiling it later skip that.
    validateSchema,
    // Each event's schema stands alone: an $id in one does not leak into another.
    addUsedSchema: false,
    code: { regExp: ajvRegExpEngine },
    logger: false,
  });
  addFormats(ajv, { mode: 'fast' });
  // ajv-formats' url regex is quadratic in the value: events are checked against this one instead.
  ajv.addFormat('url', urlFormat);
  return ajv;
}

/**
 * The schema as ajv compiles it. With addUsedSchema off, a schema without an $id has no base to
 * resolve "#" against ({"$ref": "#"}, recursion to its root, was refused): each gets one of its own.
 */
const compilable = (schema: JsonSchema): JsonSchema => (typeof schema === 'object' && schema.$id === undefined ? { $id: 'inlet:event-schema', ...schema } : schema);

/** The planned schema of one event name (or identify/group), compiled on first use. */
interface Entry {
  schema: JsonSchema | undefined;
  validate?: ValidateFunction;
}

export interface PlanVerdict {
  violations: Violation[];
  /** true: the event goes to the failed events (reason plan_violation); false: it is stored, flagged */
  block: boolean;
}

const unescapePointer = (segment: string) => segment.replaceAll('~1', '/').replaceAll('~0', '~');

/** A path is the client's keys: shortened, a long key repeated in each violation made answers and failed entries many times the body. */
const MAX_PATH_CHARS = 200;

function violationOf(error: ErrorObject, root: string): Violation {
  const { path, message } = unshortened(error, root);
  return { path: shorten(path, MAX_PATH_CHARS), message };
}

function unshortened(error: ErrorObject, root: string): Violation {
  let path = root;
  if (error.instancePath) for (const segment of error.instancePath.slice(1).split('/')) path += `.${unescapePointer(segment)}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
    case 'dependentRequired':
      return { path: `${path}.${String(params.missingProperty)}`, message: 'is required' };
    case 'additionalProperties':
      return { path: `${path}.${String(params.additionalProperty)}`, message: 'is not in the plan' };
    case 'unevaluatedProperties':
      return { path: `${path}.${String(params.unevaluatedProperty)}`, message: 'is not in the plan' };
  }
  return { path, message: error.message ?? 'is invalid' };
}

function named(section: TrackingPlan['events'] | undefined): Map<string, Entry> | undefined {
  if (!section) return undefined;
  const map = new Map<string, Entry>();
  for (const [name, entry] of Object.entries(section)) map.set(name, { schema: entry.properties });
  return map;
}

export interface CompiledPlanOptions {
  /** told when a stored schema fails to compile (an event of that name is then not checked) */
  onCompileError?(where: string, error: Error): void;
  /** told when a compiled schema throws while checking an event (events of that name then break the plan, saying so) */
  onCheckError?(where: string, error: Error): void;
}

export class CompiledPlan {
  readonly sourceId: string;
  readonly version: number;
  readonly plan: TrackingPlan;
  /** the size of the plan's JSON (what the registry's cache counts) */
  readonly bytes: number;
  readonly #ajv: Ajv2020;
  readonly #events: Map<string, Entry>;
  readonly #pages: Map<string, Entry> | undefined;
  readonly #screens: Map<string, Entry> | undefined;
  readonly #identify: Entry | undefined;
  readonly #group: Entry | undefined;
  readonly #options: CompiledPlanOptions;

  constructor(sourceId: string, version: number, plan: TrackingPlan, bytes: number, options: CompiledPlanOptions = {}) {
    this.sourceId = sourceId;
    this.version = version;
    this.plan = plan;
    this.bytes = bytes;
    this.#options = options;
    this.#ajv = newAjv(false);
    this.#events = named(plan.events)!;
    this.#pages = named(plan.pages);
    this.#screens = named(plan.screens);
    this.#identify = plan.identify?.traits === undefined ? undefined : { schema: plan.identify.traits };
    this.#group = plan.group?.traits === undefined ? undefined : { schema: plan.group.traits };
  }

  /** What the plan says about one (valid) event: undefined when it passes. */
  check(event: InletEvent): PlanVerdict | undefined {
    switch (event.type) {
      case 'track':
        return this.#named(this.#events, event.event, 'event', 'properties', event.properties, 'events');
      case 'page':
        return this.#pages && this.#named(this.#pages, event.name, 'name', 'properties', event.properties, 'pages');
      case 'screen':
        return this.#screens && this.#named(this.#screens, event.name, 'name', 'properties', event.properties, 'screens');
      case 'identify':
        return this.#identify && this.#schema(this.#identify, 'traits', event.traits, 'identify');
      case 'group':
        return this.#group && this.#schema(this.#group, 'traits', event.traits, 'group');
    }
    return undefined;
  }

  #named(entries: Map<string, Entry>, name: unknown, field: string, root: string, data: unknown, section: string): PlanVerdict | undefined {
    const entry = typeof name === 'string' ? entries.get(name) : undefined;
    if (!entry) {
      const mode = this.plan.unplanned;
      if (mode === 'allow') return undefined;
      const message = typeof name === 'string' ? `"${shorten(name, 100)}" is not in the tracking plan` : `is missing, and the tracking plan names every ${section.slice(0, -1)}`;
      return { violations: [{ path: field, message }], block: mode === 'block' };
    }
    return this.#schema(entry, root, data, `${section}[${JSON.stringify(name)}]`);
  }

  #schema(entry: Entry, root: string, data: unknown, where: string): PlanVerdict | undefined {
    if (entry.schema === undefined) return undefined;
    const validate = entry.validate ??= this.#compile(entry.schema, where);
    let valid: boolean;
    try {
      valid = validate(data ?? {}) as boolean;
    } catch (error) {
      // A schema put before loops were refused (./endless-refs.ts) can recurse until the stack
      // runs out. The event is not lost with its batch: it breaks the plan, and says why.
      this.#options.onCheckError?.(where, error as Error);
      entry.validate = cannotCheck(error as Error);
      return this.#schema(entry, root, data, where);
    }
    if (valid) return undefined;
    const errors = validate.errors ?? [];
    const violations: Violation[] = [];
    for (let i = 0; i < errors.length && i < MAX_VIOLATIONS; i++) violations.push(violationOf(errors[i], root));
    if (errors.length > MAX_VIOLATIONS) violations.push({ path: root, message: `and ${errors.length - MAX_VIOLATIONS} more violations` });
    return { violations, block: this.plan.violations === 'block' };
  }

  #compile(schema: JsonSchema, where: string): ValidateFunction {
    try {
      return this.#ajv.compile(compilable(schema));
    } catch (error) {
      // It compiled when it was put; an Inlet with stricter rules may refuse it now. Checking
      // nothing beats failing every request of the source.
      this.#options.onCompileError?.(where, error as Error);
      return Object.assign(() => true, { errors: null }) as unknown as ValidateFunction;
    }
  }
}

/** A validator that finds every value wrong, saying the schema could not check it. */
function cannotCheck(error: Error): ValidateFunction {
  const errors = [{ instancePath: '', schemaPath: '#', keyword: 'plan', params: {}, message: `could not be checked: the plan's schema for it fails (${error.message}); fix the plan, then replay` }];
  return Object.assign(() => false, { errors }) as unknown as ValidateFunction;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Marks a stored record as checked against plan `version`: `context.inlet.plan`, and
 * `context.violations` when it broke the plan (flag mode). A `context.violations` the client sent
 * is not kept: on a planned source the field is the server's verdict.
 */
export function markChecked(record: NormalizedRecord, version: number, violations: Violation[] | undefined): void {
  const context = record.context;
  const inlet = context.inlet;
  context.inlet = isObject(inlet) ? { ...inlet, plan: { version } } : { plan: { version } };
  if (violations) context.violations = violations;
  else if (context.violations !== undefined) delete context.violations;
}

/** Every schema of a plan with where it sits, for messages. */
function* schemasOf(plan: TrackingPlan): Generator<[where: string, schema: JsonSchema]> {
  for (const section of ['events', 'pages', 'screens'] as const) {
    for (const [name, entry] of Object.entries(plan[section] ?? {})) {
      if (entry.properties !== undefined) yield [`${section}[${JSON.stringify(name)}].properties`, entry.properties];
    }
  }
  if (plan.identify?.traits !== undefined) yield ['identify.traits', plan.identify.traits];
  if (plan.group?.traits !== undefined) yield ['group.traits', plan.group.traits];
}

/**
 * Refuses what would make checking one event cost more than linear time, or never end, and what
 * the loop check (./endless-refs.ts) could not follow: an $id below the root, a $ref that is not a
 * '#' fragment of the same schema, $dynamicRef.
 */
function checkCosts(schema: unknown, where: string): void {
  for (const [s, pointer] of subschemas(schema)) {
    const at = pointer ? `${where} at "${pointer}"` : where;
    for (const keyword of ['$dynamicRef', '$dynamicAnchor']) {
      // Made for extending meta-schemas; in a plan they only open ways for a check never to end.
      if (s[keyword] !== undefined) throw new InvalidPlanError(`${at}: ${keyword} is not supported in a tracking plan; use $ref (with $defs) instead`);
    }
    if (pointer !== '' && s.$id !== undefined) throw new InvalidPlanError(`${at}: $id is only allowed at the top of an event's schema (a plan's schemas are self-contained)`);
    if (typeof s.$ref === 'string' && !s.$ref.startsWith('#')) {
      throw new InvalidPlanError(/^[a-z][a-z0-9+.-]*:/i.test(s.$ref)
        ? `${at}: $ref "${s.$ref}" is outside the plan; a plan must be self-contained (Inlet never fetches schemas over the network)`
        : `${at}: $ref "${s.$ref}" must point within the schema, as a '#' fragment such as "#/$defs/name"`);
    }
    if (s.uniqueItems === true) {
      const items = s.items as Record<string, unknown> | undefined;
      const types = items && typeof items === 'object' ? [items.type].flat() : [];
      const scalar = types.length > 0 && types.every((t) => typeof t === 'string' && t !== 'object' && t !== 'array');
      if (!scalar && !(typeof s.maxItems === 'number' && s.maxItems <= MAX_UNIQUE_ITEMS)) {
        throw new InvalidPlanError(`${at}: uniqueItems on items that are not typed as strings, numbers or booleans needs "maxItems" of at most ${MAX_UNIQUE_ITEMS} (checking them compares every pair of items)`);
      }
    }
  }
}

/** Values of every JSON type: a schema that overflows the stack on one of them is refused at put (a backstop to ./endless-refs.ts). */
const PROBES: unknown[] = [{}, [], '', 0, null, true];

function compileError(where: string, error: Error & { missingRef?: string }): InvalidPlanError {
  if (error.missingRef !== undefined) {
    const remote = /^[a-z][a-z0-9+.-]*:/i.test(error.missingRef);
    return new InvalidPlanError(remote
      ? `${where}: $ref "${error.missingRef}" is outside the plan; a plan must be self-contained (Inlet never fetches schemas over the network)`
      : `${where}: $ref "${error.missingRef}" cannot be resolved within the schema`);
  }
  return new InvalidPlanError(`${where}: ${error.message}`);
}

/** Time between yields to the event loop while compiling a large plan (the admin API shares the process with ingestion). */
const SLICE_MS = 10;

/**
 * Compiles every schema of the plan against the draft 2020-12 meta-schema; throws InvalidPlanError
 * naming the first that does not compile. Gives the event loop a turn every few milliseconds.
 */
export async function compilePlan(plan: TrackingPlan): Promise<void> {
  const ajv = newAjv(true);
  let sliceStart = performance.now();
  for (const [where, schema] of schemasOf(plan)) {
    checkCosts(schema, where);
    const loop = findEndlessRef(schema);
    if (loop !== undefined) {
      throw new InvalidPlanError(`${where}: the subschema at "${loop}" leads back to itself (through $ref, allOf, anyOf, oneOf, not, if/then/else, dependentSchemas or dependencies) without going into a property or an item, so checking an event would never end`);
    }
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(compilable(schema));
    } catch (error) {
      throw compileError(where, error as Error);
    }
    for (const probe of PROBES) {
      try {
        validate(probe);
      } catch (error) {
        throw new InvalidPlanError(`${where}: checking a value against it fails (${(error as Error).message}); it probably leads back to itself without going into a property or an item`);
      }
    }
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
}
