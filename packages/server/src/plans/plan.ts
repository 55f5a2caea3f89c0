// A tracking plan: what a source's events should look like, as one JSON document. Checked here
// for shape and bounds before anything compiles it, so a wrong plan is refused with a sentence
// that names the field. Planned names are kept in Maps: an event called "__proto__" or
// "constructor" is just a name.

/** What happens to an event whose name the plan does not list. */
export type UnplannedMode = 'allow' | 'flag' | 'block';
/** What happens to a planned event whose properties (or traits) break its schema. */
export type ViolationMode = 'flag' | 'block';

export const UNPLANNED_MODES: readonly UnplannedMode[] = ['allow', 'flag', 'block'];
export const VIOLATION_MODES: readonly ViolationMode[] = ['flag', 'block'];

/** A JSON Schema (draft 2020-12): an object, or true/false. */
export type JsonSchema = Record<string, unknown> | boolean;

/** A plan as stored and served (the document the user put, with defaults filled in). */
export interface TrackingPlan {
  unplanned: UnplannedMode;
  violations: ViolationMode;
  /** track events by name: the schema of `properties` */
  events: Record<string, { properties?: JsonSchema; description?: string }>;
  /** page views by name (when present, a page whose name is not listed is unplanned) */
  pages?: Record<string, { properties?: JsonSchema; description?: string }>;
  /** screen views by name, like pages */
  screens?: Record<string, { properties?: JsonSchema; description?: string }>;
  /** the schema of identify's `traits` */
  identify?: { traits?: JsonSchema };
  /** the schema of group's `traits` */
  group?: { traits?: JsonSchema };
  description?: string;
}

/** Largest plan document, as JSON text (a 2 MB plan is refused). */
export const MAX_PLAN_BYTES = 1024 * 1024;
/** Most named events in one plan (events, pages and screens together). */
export const MAX_PLAN_EVENTS = 2000;
/** Longest event, page or screen name. */
export const MAX_EVENT_NAME_LENGTH = 200;

/**
 * Deepest nesting of one schema's JSON (about half as many levels of the event it describes): deep
 * enough for the shapes plans describe, shallow enough that what walks a schema recursively (ajv
 * among them) never runs out of stack.
 */
export const MAX_SCHEMA_DEPTH = 100;
/**
 * Most objects in one schema. ajv compiles a schema in one go on the server's main thread, about
 * 0.1 ms per subschema here, and the first event of its name waits for that: 25,000 properties
 * held every request 4-5 s.
 */
export const MAX_SCHEMA_OBJECTS = 1000;

/** A plan that cannot be used: the message says why, for the person who wrote it. */
export class InvalidPlanError extends Error {
  override name = 'InvalidPlanError';
}

/** A plan over MAX_PLAN_BYTES. */
export class PlanTooLargeError extends InvalidPlanError {
  override name = 'PlanTooLargeError';
}

const TOP_LEVEL = new Set(['$schema', 'description', 'unplanned', 'violations', 'events', 'pages', 'screens', 'identify', 'group']);
const NAMED_ENTRY = new Set(['properties', 'description']);
const TRAITS_ENTRY = new Set(['traits', 'description']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function onlyKeys(value: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) throw new InvalidPlanError(`${where}: unknown field "${key}" (expected ${[...allowed].join(', ')})`);
  }
}

function schemaAt(value: unknown, where: string): JsonSchema | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  if (!isObject(value)) throw new InvalidPlanError(`${where} must be a JSON Schema (an object, or true/false)`);
  checkSchemaSize(value, where);
  return value;
}

/** Refuses a schema nested deeper than MAX_SCHEMA_DEPTH or holding more than MAX_SCHEMA_OBJECTS objects (walked without recursion). */
export function checkSchemaSize(schema: Record<string, unknown>, where: string): void {
  const values: unknown[] = [schema];
  const depths: number[] = [1];
  let objects = 0;
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_SCHEMA_DEPTH) throw new InvalidPlanError(`${where} is nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
    if (!Array.isArray(value) && ++objects > MAX_SCHEMA_OBJECTS) {
      throw new InvalidPlanError(`${where} holds more than ${MAX_SCHEMA_OBJECTS} objects (subschemas, and objects in const, enum and examples); split it, or check less of the event`);
    }
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      values.push(child);
      depths.push(depth + 1);
    }
  }
}

function describedBy(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidPlanError(`${where} must be a string`);
  return value;
}

function named(value: unknown, section: string): TrackingPlan['events'] {
  if (!isObject(value)) throw new InvalidPlanError(`${section} must be an object of names, e.g. {"Order Completed": {"properties": {...}}}`);
  // Object.create(null): a "__proto__" name parsed by JSON.parse stays a name when copied.
  const out = Object.create(null) as TrackingPlan['events'];
  for (const [name, entry] of Object.entries(value)) {
    const where = `${section}[${JSON.stringify(name)}]`;
    if (name === '') throw new InvalidPlanError(`${section}: a name must not be empty`);
    if (name.length > MAX_EVENT_NAME_LENGTH) throw new InvalidPlanError(`${section}: the name "${name.slice(0, 40)}..." is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
    if (!isObject(entry)) throw new InvalidPlanError(`${where} must be an object such as {"properties": {...}}`);
    onlyKeys(entry, NAMED_ENTRY, where);
    const properties = schemaAt(entry.properties, `${where}.properties`);
    const description = describedBy(entry.description, `${where}.description`);
    out[name] = { ...(properties === undefined ? {} : { properties }), ...(description === undefined ? {} : { description }) };
  }
  return out;
}

function traitsOf(value: unknown, section: string): { traits?: JsonSchema } {
  if (!isObject(value)) throw new InvalidPlanError(`${section} must be an object such as {"traits": {...}}`);
  onlyKeys(value, TRAITS_ENTRY, section);
  const traits = schemaAt(value.traits, `${section}.traits`);
  return traits === undefined ? {} : { traits };
}

function modeOf<T extends string>(value: unknown, name: string, modes: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !modes.includes(value as T)) throw new InvalidPlanError(`${name} must be one of ${modes.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** The plan in `text` (JSON), checked for shape and bounds; schemas are compiled separately. */
export function parsePlan(text: string): TrackingPlan {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PLAN_BYTES) throw new PlanTooLargeError(`the plan is ${bytes} bytes; the limit is ${MAX_PLAN_BYTES} (1 MiB)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidPlanError(`the plan is not JSON: ${(error as Error).message}`);
  }
  return checkPlan(value);
}

/** A parsed plan value checked for shape and bounds, with defaults filled in. */
export function checkPlan(value: unknown): TrackingPlan {
  if (!isObject(value)) throw new InvalidPlanError('a plan must be a JSON object such as {"unplanned": "allow", "violations": "flag", "events": {...}}');
  onlyKeys(value, TOP_LEVEL, 'plan');
  if (value.$schema !== undefined && typeof value.$schema !== 'string') throw new InvalidPlanError('$schema must be a string');
  const plan: TrackingPlan = {
    unplanned: modeOf(value.unplanned, 'unplanned', UNPLANNED_MODES, 'allow'),
    violations: modeOf(value.violations, 'violations', VIOLATION_MODES, 'flag'),
    events: value.events === undefined ? Object.create(null) : named(value.events, 'events'),
  };
  if (value.pages !== undefined) plan.pages = named(value.pages, 'pages');
  if (value.screens !== undefined) plan.screens = named(value.screens, 'screens');
  if (value.identify !== undefined) plan.identify = traitsOf(value.identify, 'identify');
  if (value.group !== undefined) plan.group = traitsOf(value.group, 'group');
  const description = describedBy(value.description, 'description');
  if (description !== undefined) plan.description = description;
  const count = planEventCount(plan);
  if (count > MAX_PLAN_EVENTS) throw new InvalidPlanError(`the plan names ${count} events, pages and screens; the limit is ${MAX_PLAN_EVENTS}`);
  return plan;
}

export function planEventCount(plan: TrackingPlan): number {
  return Object.keys(plan.events).length + Object.keys(plan.pages ?? {}).length + Object.keys(plan.screens ?? {}).length;
}

/** One way an event breaks its source's plan. */
export interface Violation {
  /** where: `event` (the name), `properties.total`, `traits.email` ... */
  path: string;
  message: string;
}

/** How a violation reads in a client's answer and a failed event's errors. */
export const violationText = (v: Violation, version: number): string => `tracking plan v${version}: ${v.path} ${v.message}`;
