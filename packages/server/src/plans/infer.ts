// A plan proposed from the events a source already sends: the track events' names, each
// property's JSON types (integer and number together are "number"), and which properties every
// event of that name had (they become `required`). Identify and group traits the same way. The
// proposal is in flag mode: put it, watch context.violations, tighten it, then block.
import type { InletEvent } from '@inlet/schema';
import { checkSchemaSize, MAX_PLAN_EVENTS, type JsonSchema, type TrackingPlan } from './plan.ts';

/** Levels of nested objects described; deeper values are only typed as objects. */
const MAX_DEPTH = 4;
/** An object seen with more distinct keys than this is a map (ids as keys): typed, its keys not listed. */
const MAX_KEYS = 100;

type JsonType = 'null' | 'boolean' | 'integer' | 'number' | 'string' | 'array' | 'object';

function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'boolean': return 'boolean';
    case 'number': return Number.isInteger(value) ? 'integer' : 'number';
    case 'string': return 'string';
    default: return 'object';
  }
}

/** What was seen at one place (a property, an array's items). */
class ValueStats {
  readonly types = new Set<JsonType>();
  object: ObjectStats | undefined;
  items: ValueStats | undefined;

  add(value: unknown, depth: number): void {
    const type = jsonType(value);
    this.types.add(type);
    if (depth >= MAX_DEPTH) return;
    if (type === 'object') (this.object ??= new ObjectStats()).add(value as Record<string, unknown>, depth + 1);
    else if (type === 'array') for (const item of value as unknown[]) (this.items ??= new ValueStats()).add(item, depth + 1);
  }

  /** `levels`: how many more levels of nested objects and arrays to describe */
  schema(levels: number): Record<string, unknown> {
    const types = new Set(this.types);
    if (types.has('integer') && types.has('number')) types.delete('integer');
    const list = [...types].sort();
    const schema: Record<string, unknown> = list.length === 1 ? { type: list[0] } : { type: list };
    if (levels <= 0) return schema;
    if (this.object && types.has('object')) Object.assign(schema, this.object.schema(levels - 1));
    if (this.items && types.has('array')) schema.items = this.items.schema(levels - 1);
    return schema;
  }
}

/** What was seen in the objects at one place: each key, how often, and its values. */
class ObjectStats {
  count = 0;
  readonly keys = new Map<string, { present: number; values: ValueStats }>();
  /** more distinct keys than MAX_KEYS: a map, not a record */
  isMap = false;

  add(object: Record<string, unknown>, depth: number): void {
    this.count++;
    for (const [key, value] of Object.entries(object)) {
      let seen = this.keys.get(key);
      if (!seen) {
        if (this.isMap) continue;
        if (this.keys.size >= MAX_KEYS) {
          this.isMap = true;
          this.keys.clear();
          continue;
        }
        this.keys.set(key, seen = { present: 0, values: new ValueStats() });
      }
      seen.present++;
      seen.values.add(value, depth);
    }
  }

  schema(levels = MAX_DEPTH): Record<string, unknown> {
    if (this.isMap) return { type: 'object' };
    const properties: Record<string, unknown> = {};
    const required: string[] = [];
    for (const [key, seen] of [...this.keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      // defineProperty: a key "__proto__" stays a key.
      Object.defineProperty(properties, key, { value: seen.values.schema(levels), enumerable: true, writable: true, configurable: true });
      if (seen.present === this.count) required.push(key);
    }
    return { type: 'object', properties, ...(required.length ? { required } : {}) };
  }
}

export interface InferredPlan {
  plan: TrackingPlan;
  /** events the plan was made from */
  events: number;
  /** track event names left out: the plan already had MAX_PLAN_EVENTS */
  namesLeftOut: number;
}

export class PlanInference {
  readonly #events = new Map<string, ObjectStats>();
  readonly #traits = { identify: new ObjectStats(), group: new ObjectStats() };
  #count = 0;
  #namesLeftOut = new Set<string>();

  /** One stored event (other types than track, identify and group are counted but add nothing). */
  add(event: InletEvent): void {
    this.#count++;
    if (event.type === 'track' && typeof event.event === 'string') {
      let stats = this.#events.get(event.event);
      if (!stats) {
        if (this.#events.size >= MAX_PLAN_EVENTS) {
          this.#namesLeftOut.add(event.event);
          return;
        }
        this.#events.set(event.event, stats = new ObjectStats());
      }
      stats.add(isObject(event.properties) ? event.properties : {}, 1);
    } else if (event.type === 'identify' || event.type === 'group') {
      this.#traits[event.type].add(isObject(event.traits) ? event.traits : {}, 1);
    }
  }

  get count(): number {
    return this.#count;
  }

  result(): InferredPlan {
    const events = Object.create(null) as TrackingPlan['events'];
    for (const [name, stats] of [...this.#events].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      events[name] = { properties: fitting(stats) as JsonSchema, description: `inferred from ${stats.count} events` };
    }
    const plan: TrackingPlan = { unplanned: 'flag', violations: 'flag', events };
    if (this.#traits.identify.count > 0) plan.identify = { traits: fitting(this.#traits.identify) };
    if (this.#traits.group.count > 0) plan.group = { traits: fitting(this.#traits.group) };
    return { plan, events: this.#count, namesLeftOut: this.#namesLeftOut.size };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The schema described as deep as a plan's limits on one schema allow (checkSchemaSize), so the proposal can be put as it is. */
function fitting(stats: ObjectStats): Record<string, unknown> {
  for (let levels = MAX_DEPTH; ; levels--) {
    const schema = stats.schema(levels);
    if (levels === 0) return schema;
    try {
      checkSchemaSize(schema, 'inferred');
      return schema;
    } catch {
      // Too many objects at this depth: describe one level less.
    }
  }
}
