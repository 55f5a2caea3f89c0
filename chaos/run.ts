// `npm run chaos`: runs the drills one after another against real processes, prints each one's
// measurements and verdict, writes RELIABILITY.md, and exits non-zero when any drill failed.
// The npm script builds dist/ first and runs this file on the sources (--conditions=inlet-source);
// the servers and processors it starts do not get that condition, so they run the compiled
// dist/ as in production. Under npm test (chaos/test) they run the sources like every test.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DRILLS } from './drills/index.ts';
import { cleanUpRunningDrills, passed, runDrill, type DrillResult } from './lib/drill.ts';
import { sharedKafka } from './lib/kafka.ts';
import { missingNeeds } from './lib/needs.ts';
import { PREFACE } from './lib/preface.ts';
import { consoleBlock, machine, reliabilityMarkdown } from './lib/report.ts';

const ROOT = resolve(import.meta.dirname, '..');

const USAGE = `usage: npm run chaos -- [--drill NAME ...] [--quick] [--out FILE]

Runs the chaos drills (chaos/README.md) against real processes on this machine and writes the
report (default RELIABILITY.md at the repository root). Exits 1 when any drill fails.

  --drill NAME   run only this drill (repeatable); one of:
${DRILLS.map((d) => `                   ${d.name.padEnd(20)} ${d.title}`).join('\n')}
  --quick        shortened phases and attacks (what npm test runs); the report says so
  --out FILE     where to write the report (default RELIABILITY.md)
  -h, --help`;

let values;
try {
  ({ values } = parseArgs({ options: { drill: { type: 'string', multiple: true }, quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = (values.drill ?? []).filter((name) => !DRILLS.some((d) => d.name === name));
if (unknown.length) {
  console.error(`unknown drill ${unknown.join(', ')}\n\n${USAGE}`);
  process.exit(2);
}
const drills = values.drill ? DRILLS.filter((d) => values.drill!.includes(d.name)) : DRILLS;
const quick = Boolean(values.quick);
const out = resolve(values.out ?? resolve(ROOT, 'RELIABILITY.md'));

const kafka = sharedKafka();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: undoing what the running drill set up ...`);
    void cleanUpRunningDrills().then(() => kafka.stop()).finally(() => process.exit(130));
  });
}

const startedAt = new Date();
const started = performance.now();
const the = machine();
console.log(`chaos: ${drills.length} drill(s)${quick ? ', quick' : ''} on ${the.cpu}, ${the.cores} cores, ${the.memory}, ${the.kernel}, Node ${the.node}\n`);
const results: DrillResult[] = [];
try {
  for (const drill of drills) {
    if (interrupted) break;
    console.log(`▶ ${drill.name}: ${drill.title}`);
    const missing = await missingNeeds(drill.needs).catch((error: Error) => error.message);
    const result: DrillResult = missing
      ? { name: drill.name, title: drill.title, statuses: {}, recoveryMs: [], notes: [], checks: [], durationMs: 0, error: `cannot run here: ${missing}` }
      : await runDrill(drill, { quick, kafka: () => kafka.get() });
    results.push(result);
    console.log(`${consoleBlock(result)}\n`);
  }
} finally {
  await kafka.stop().catch((error: Error) => console.error(`stopping the shared Kafka cluster failed: ${error.message}`));
}

const args = process.argv.slice(2);
const command = `npm run chaos${args.length ? ` -- ${args.join(' ')}` : ''}`;
writeFileSync(out, reliabilityMarkdown({ command, startedAt, durationMs: performance.now() - started, machine: the, quick, drills, results, preface: PREFACE }));
const failed = results.filter((r) => !passed(r));
console.log(`${results.length - failed.length} of ${results.length} drills passed${failed.length ? `; failed: ${failed.map((r) => r.name).join(', ')}` : ''}. Report: ${out}`);
process.exit(failed.length || interrupted ? 1 : 0);
