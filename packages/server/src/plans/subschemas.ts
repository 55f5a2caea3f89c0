// The subschemas of a JSON Schema (draft 2020-12), found by the keywords that hold them, so a walk
// never takes data for a schema: a property named "enum" or "default" is a schema, the value of the
// keyword "enum" is not. Keywords ajv does not know are refused by it (strictSchema), so nothing a
// plan can hold is missed here.

/** Keywords whose value is one schema. */
const ONE = new Set(['not', 'if', 'then', 'else', 'items', 'contains', 'additionalProperties', 'propertyNames', 'unevaluatedItems', 'unevaluatedProperties']);
/** Keywords whose value is a list of schemas. */
const LIST = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
/** Keywords whose value maps names to schemas ('dependencies', draft 7's, maps names to schemas or to lists of names). */
const MAP = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies']);

export type SchemaNode = Record<string, unknown>;

/** A schema object (not true/false, not a list). */
export const isNode = (v: unknown): v is SchemaNode => v !== null && typeof v === 'object' && !Array.isArray(v);
const escape = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** Every schema object in `root` (root first) with its JSON pointer ('' for the root). Walked without recursion. */
export function* subschemas(root: unknown): Generator<[node: SchemaNode, pointer: string]> {
  if (!isNode(root)) return;
  const stack: [SchemaNode, string][] = [[root, '']];
  while (stack.length > 0) {
    const [node, pointer] = stack.pop()!;
    yield [node, pointer];
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${escape(key)}`;
      if (ONE.has(key)) {
        if (isNode(value)) stack.push([value, at]);
      } else if (LIST.has(key)) {
        if (Array.isArray(value)) value.forEach((item, i) => { if (isNode(item)) stack.push([item, `${at}/${i}`]); });
      } else if (MAP.has(key) && isNode(value)) {
        for (const [name, item] of Object.entries(value)) if (isNode(item)) stack.push([item, `${at}/${escape(name)}`]);
      }
    }
  }
}
