// TypeScript from a plan: one type, `TrackingPlan`, mapping each planned track event's name to
// its properties. Both SDKs take it as a type parameter (`new Analytics<TrackingPlan>(...)`,
// `new ServerAnalytics<TrackingPlan>(...)`), and then `track('Order Completed', {...})` is checked
// by tsc: an unplanned name, a missing required property or a wrong type is a compile error. The
// file imports nothing, so it works with either SDK, or both.
import type { JsonSchema, TrackingPlan } from './plan.ts';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** Nesting beyond this becomes `unknown` (a plan's own recursion, through $ref, too). */
const MAX_DEPTH = 24;

const key = (name: string) => (IDENTIFIER.test(name) ? name : JSON.stringify(name));
const comment = (text: string, indent: string) => `${indent}/** ${text.replaceAll('*/', '*\\/').replace(/\s*\n\s*/g, ' ')} */\n`;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function literal(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return 'unknown';
}

/** Turns JSON Schemas into TypeScript types, resolving local `$ref`s against the schema they are in. */
class SchemaTypes {
  readonly #root: JsonSchema;
  readonly #resolving = new Set<string>();

  constructor(root: JsonSchema) {
    this.#root = root;
  }

  type(schema: unknown, depth: number, indent: string): string {
    if (schema === true || schema === undefined) return 'unknown';
    if (schema === false) return 'never';
    if (!isObject(schema) || depth > MAX_DEPTH) return 'unknown';
    if (typeof schema.$ref === 'string') return this.#ref(schema.$ref, depth, indent);
    if ('const' in schema) return literal(schema.const);
    if (Array.isArray(schema.enum)) return schema.enum.map(literal).join(' | ') || 'never';
    const parts: string[] = [];
    if (Array.isArray(schema.anyOf)) parts.push(this.#union(schema.anyOf, depth, indent));
    if (Array.isArray(schema.oneOf)) parts.push(this.#union(schema.oneOf, depth, indent));
    if (Array.isArray(schema.allOf)) parts.push(...schema.allOf.map((s) => `(${this.type(s, depth + 1, indent)})`));
    const own = this.#own(schema, depth, indent);
    if (own !== undefined) parts.push(own);
    if (parts.length === 0) return 'unknown';
    return parts.length === 1 ? parts[0] : parts.map((p) => `(${p})`).join(' & ');
  }

  #union(schemas: unknown[], depth: number, indent: string): string {
    return schemas.map((s) => `(${this.type(s, depth + 1, indent)})`).join(' | ') || 'never';
  }

  /** What `type` (and the keywords that go with it) says; undefined when the schema says nothing of it. */
  #own(schema: Record<string, unknown>, depth: number, indent: string): string | undefined {
    let types = schema.type === undefined ? [] : [schema.type].flat().filter((t): t is string => typeof t === 'string');
    if (types.length === 0 && (isObject(schema.properties) || schema.additionalProperties !== undefined || Array.isArray(schema.required))) types = ['object'];
    if (types.length === 0 && schema.items !== undefined) types = ['array'];
    if (types.length === 0) return undefined;
    return [...new Set(types.map((t) => this.#ofType(t, schema, depth, indent)))].join(' | ');
  }

  #ofType(type: string, schema: Record<string, unknown>, depth: number, indent: string): string {
    switch (type) {
      case 'string': return 'string';
      case 'number': case 'integer': return 'number';
      case 'boolean': return 'boolean';
      case 'null': return 'null';
      case 'array': return schema.items === undefined || typeof schema.items === 'boolean' ? `${schema.items === false ? 'never' : 'unknown'}[]` : `Array<${this.type(schema.items, depth + 1, indent)}>`;
      case 'object': return this.object(schema, depth, indent);
    }
    return 'unknown';
  }

  /** An object's declared properties; others allowed (`unknown`) unless additionalProperties is false. */
  object(schema: Record<string, unknown>, depth: number, indent: string): string {
    const inner = `${indent}  `;
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
    const properties = isObject(schema.properties) ? schema.properties : {};
    let body = '';
    for (const [name, property] of Object.entries(properties)) {
      if (isObject(property) && typeof property.description === 'string') body += comment(property.description, inner);
      body += `${inner}${key(name)}${required.has(name) ? '' : '?'}: ${this.type(property, depth + 1, inner)};\n`;
      required.delete(name);
    }
    // Required but not described: present, of any type.
    for (const name of required) body += `${inner}${key(name)}: unknown;\n`;
    if (schema.additionalProperties !== false && schema.unevaluatedProperties !== false) body += `${inner}[property: string]: unknown;\n`;
    return body === '' ? '{}' : `{\n${body}${indent}}`;
  }

  #ref(ref: string, depth: number, indent: string): string {
    if (!ref.startsWith('#') || this.#resolving.has(ref)) return 'unknown';
    let target: unknown = this.#root;
    for (const segment of ref.slice(1).split('/').filter(Boolean)) {
      const name = decodeURIComponent(segment).replaceAll('~1', '/').replaceAll('~0', '~');
      target = isObject(target) && Object.hasOwn(target, name) ? target[name] : undefined;
    }
    if (target === undefined) return 'unknown';
    this.#resolving.add(ref);
    try {
      return this.type(target, depth + 1, indent);
    } finally {
      this.#resolving.delete(ref);
    }
  }
}

export interface TypegenSource {
  sourceId: string;
  version: number;
}

/** The TypeScript module `inlet plans typegen` writes. */
export function typegen(plan: TrackingPlan, from: TypegenSource): string {
  let body = '';
  for (const [name, entry] of Object.entries(plan.events)) {
    if (entry.description) body += comment(entry.description, '  ');
    const properties = entry.properties ?? true;
    const types = new SchemaTypes(properties);
    const type = isObject(properties) ? types.type(properties, 0, '  ') : properties === false ? 'never' : '{ [property: string]: unknown }';
    // A schema that allows anything but objects would still be sent as an object.
    body += `  ${JSON.stringify(name)}: ${type === 'unknown' ? '{ [property: string]: unknown }' : type};\n`;
  }
  return `// Generated by \`inlet plans typegen\` from the tracking plan of source ${from.sourceId}, version ${from.version}.
// Do not edit: generate it again when the plan changes. Use it as the SDK's type parameter:
//
//   const analytics = new Analytics<TrackingPlan>({ writeKey });          // @inlet/browser
//   analytics.track('Order Completed', { orderId: 'o-1', total: 12 });   // checked by tsc
//
//   const analytics = new ServerAnalytics<TrackingPlan>({ writeKey });    // @inlet/node
//   analytics.track(userId, 'Order Completed', { orderId: 'o-1', total: 12 });

/** The plan's track events: name → properties. */
export type TrackingPlan = {
${body}};
`;
}
