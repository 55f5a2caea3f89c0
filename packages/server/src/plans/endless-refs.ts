// A schema whose $ref leads back to itself before descending into a property or an item checks
// every event forever: {"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}
// compiles, and each event of that name then exhausts the stack. So a plan is refused when one of
// its schemas has such a loop: the keywords that apply a subschema to the same value (allOf, anyOf,
// oneOf, not, if/then/else, dependentSchemas, $ref) are followed from every subschema;
// the ones that apply it to a part of the value (properties, items, ...) end a path, since each
// step there goes one level down an event of bounded depth. Recursion through them, as a tree
// schema has, is fine.

/** Keywords whose subschemas apply to the same value: a loop through only these never ends. */
const IN_PLACE_ONE = ['not', 'if', 'then', 'else'] as const;
const IN_PLACE_MANY = ['allOf', 'anyOf', 'oneOf'] as const;
/** Keywords whose values are data, not schemas: not walked. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every subschema with its JSON pointer, and the named anchors ($anchor). ($dynamicRef is refused in plans.) */
function indexOf(root: Node): { pointers: Map<string, Node>; anchors: Map<string, Node[]>; where: Map<Node, string> } {
  const pointers = new Map<string, Node>();
  const anchors = new Map<string, Node[]>();
  const where = new Map<Node, string>();
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [value, pointer] = stack.pop()!;
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push([item, `${pointer}/${i}`]));
      continue;
    }
    if (!isNode(value) || where.has(value)) continue;
    pointers.set(pointer, value);
    where.set(value, pointer || '/');
    if (typeof value.$anchor === 'string') anchors.set(value.$anchor, [...(anchors.get(value.$anchor) ?? []), value]);
    for (const [key, child] of Object.entries(value)) {
      if (!DATA_KEYWORDS.has(key)) stack.push([child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`]);
    }
  }
  return { pointers, anchors, where };
}

/** What a reference within the schema points at; nothing for one it cannot resolve here (ajv refuses those itself, or they name another resource). */
function targets(ref: unknown, index: ReturnType<typeof indexOf>): Node[] {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return [];
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return [];
  }
  if (fragment === '' || fragment.startsWith('/')) {
    const node = index.pointers.get(fragment);
    return node ? [node] : [];
  }
  return index.anchors.get(fragment) ?? [];
}

/** The subschemas applied to the same value as `node`. */
function inPlace(node: Node, index: ReturnType<typeof indexOf>): Node[] {
  const next: Node[] = [];
  for (const keyword of IN_PLACE_ONE) if (isNode(node[keyword])) next.push(node[keyword] as Node);
  for (const keyword of IN_PLACE_MANY) {
    const list = node[keyword];
    if (Array.isArray(list)) for (const item of list) if (isNode(item)) next.push(item);
  }
  if (isNode(node.dependentSchemas)) for (const item of Object.values(node.dependentSchemas)) if (isNode(item)) next.push(item);
  next.push(...targets(node.$ref, index));
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
  const colour = new Map<Node, 1 | 2>();
  for (const start of index.where.keys()) {
    if (colour.has(start)) continue;
    const path: { node: Node; next: Node[] }[] = [{ node: start, next: inPlace(start, index) }];
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
