// A schema whose $ref leads back to itself before descending into a property or an item checks
// every event forever: {"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}
// compiles, and each event of that name then exhausts the stack. So a plan is refused when one of
// its schemas has such a loop: the keywords that apply a subschema to the same value (allOf, anyOf,
// oneOf, not, if/then/else, dependentSchemas and draft 7's dependencies, $ref) are followed from every subschema; the ones
// that apply it to a part of the value (properties, items, ...) end a path, since each step there
// goes one level down an event of bounded depth. Recursion through them, as a tree schema has, is
// fine. References are resolved within the one schema: compiled-plan.ts refuses the others (an
// $id below the root, a $ref that is not a '#' fragment, $dynamicRef).
import { isNode, subschemas, type SchemaNode } from './subschemas.ts';

const IN_PLACE_ONE = ['not', 'if', 'then', 'else'] as const;
const IN_PLACE_LIST = ['allOf', 'anyOf', 'oneOf'] as const;

interface Index {
  pointers: Map<string, SchemaNode>;
  anchors: Map<string, SchemaNode>;
  where: Map<SchemaNode, string>;
}

function indexOf(root: SchemaNode): Index {
  const index: Index = { pointers: new Map(), anchors: new Map(), where: new Map() };
  for (const [node, pointer] of subschemas(root)) {
    index.pointers.set(pointer, node);
    index.where.set(node, pointer || '/');
    if (typeof node.$anchor === 'string') index.anchors.set(node.$anchor, node);
  }
  return index;
}

/** What a '#' reference points at; undefined for one it cannot resolve (ajv refuses those itself). */
function target(ref: unknown, index: Index): SchemaNode | undefined {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  return fragment === '' || fragment.startsWith('/') ? index.pointers.get(fragment) : index.anchors.get(fragment);
}

/** The subschemas applied to the same value as `node`. */
function inPlace(node: SchemaNode, index: Index): SchemaNode[] {
  const next: SchemaNode[] = [];
  for (const keyword of IN_PLACE_ONE) if (isNode(node[keyword])) next.push(node[keyword] as SchemaNode);
  for (const keyword of IN_PLACE_LIST) {
    const list = node[keyword];
    if (Array.isArray(list)) for (const item of list) if (isNode(item)) next.push(item);
  }
  for (const keyword of ['dependentSchemas', 'dependencies']) {
    const map = node[keyword];
    if (isNode(map)) for (const item of Object.values(map)) if (isNode(item)) next.push(item);
  }
  const referred = target(node.$ref, index);
  if (referred) next.push(referred);
  return next;
}

/**
 * The pointer of a subschema that reaches itself through keywords that apply to the same value,
 * or undefined when there is none.
 */
export function findEndlessRef(schema: unknown): string | undefined {
  if (!isNode(schema)) return undefined;
  const index = indexOf(schema);
  // Depth-first with colours, iteratively: 1 = on the current path, 2 = done (no loop through it).
  const colour = new Map<SchemaNode, 1 | 2>();
  for (const start of index.where.keys()) {
    if (colour.has(start)) continue;
    const path: { node: SchemaNode; next: SchemaNode[] }[] = [{ node: start, next: inPlace(start, index) }];
    colour.set(start, 1);
    while (path.length > 0) {
      const top = path[path.length - 1];
      const child = top.next.pop();
      if (child === undefined) {
        colour.set(top.node, 2);
        path.pop();
        continue;
      }
      const seen = colour.get(child);
      if (seen === 1) return index.where.get(child);
      if (seen === 2) continue;
      colour.set(child, 1);
      path.push({ node: child, next: inPlace(child, index) });
    }
  }
  return undefined;
}
