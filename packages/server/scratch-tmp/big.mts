import { Ajv2020 } from 'ajv/dist/2020.js';
const mk = () => new Ajv2020({ allErrors: true, strictSchema: true, strictTypes: false, allowUnionTypes: true, addUsedSchema: false, validateSchema: true });
for (const n of [250, 500, 1000, 2000, 4000]) {
  const props: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) props[`property_${i}`] = { type: 'string', maxLength: 100 };
  const schema = { type: 'object', properties: props };
  const bytes = JSON.stringify(schema).length;
  const t = performance.now(); mk().compile(schema); const ms = performance.now() - t;
  const anyOf = { anyOf: Array.from({ length: n }, (_, i) => ({ const: `v${i}` })) };
  const t2 = performance.now(); mk().compile(anyOf); const ms2 = performance.now() - t2;
  console.log(n, 'props', bytes, 'B', ms.toFixed(0), 'ms;', 'anyOf', JSON.stringify(anyOf).length, 'B', ms2.toFixed(0), 'ms');
}
