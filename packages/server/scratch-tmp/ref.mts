import { Ajv2020 } from 'ajv/dist/2020.js';
const mk = (o: object) => new Ajv2020({ strictSchema: true, strictTypes: false, allowUnionTypes: true, ...o });
const s = { type: 'object', properties: { c: { $ref: '#' } } };
for (const [name, opts, schema] of [['default', {}, s], ['addUsedSchema false', { addUsedSchema: false }, s], ['false + $id', { addUsedSchema: false }, { $id: 'inlet:e1', ...s }], ['false + $id twice', { addUsedSchema: false }, { $id: 'inlet:e1', ...s }]] as const) {
  try { const a = mk(opts); const v = a.compile(schema as object); const v2 = a.compile({ ...(schema as object) }); console.log(name, 'ok', v({ c: { c: 1 } }), v({ c: { c: {} } }), !!v2); } catch (e) { console.log(name, 'ERR', (e as Error).message); }
}
