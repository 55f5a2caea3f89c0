// What checking an event against a tracking plan costs in CPU, without HTTP: the request path's
// per-event work (validate, normalize, serialize) with and without the 100-event plan of the
// `inlet-*-plan` servers (./http/plan.ts, flag mode), on W1's events. CPU time of this process
// (process.cpuUsage), so a busy machine stretches the wall clock but not the answer much; the
// two variants alternate over several rounds and each one's median is used.
//
//   node --import tsx bench/plan-validation.ts [--seconds 1] [--rounds 7]
//   npm run bench -- --suite plans
import { parseArgs } from 'node:util';
import { createNormalizer, validateEvent, type InletEvent } from '@inlet/schema';
import { CompiledPlan, compilePlan, markChecked } from '../packages/server/src/plans/compiled-plan.ts';
import { checkPlan } from '../packages/server/src/plans/plan.ts';
import { benchPlan } from './http/plan.ts';
import { bodyTemplate, WORKLOADS } from './http/workloads.ts';

interface SuiteOptions {
  quick?: boolean;
  log?(line: string): void;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** W1's 100 events, parsed as the server parses a request body. */
function w1Events(): Record<string, unknown>[] {
  return (JSON.parse(bodyTemplate(WORKLOADS.W1, 'v7').render()) as { batch: Record<string, unknown>[] }).batch;
}

type Step = (event: InletEvent) => void;

/** CPU µs per event of `step` over W1's events, run for about `seconds` of CPU. */
function cpuMicrosPerEvent(events: InletEvent[], step: Step, seconds: number): number {
  let done = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < seconds * 1e6) {
    for (const event of events) step(event);
    done += events.length;
    const now = process.cpuUsage(start);
    used = now.user + now.system;
  }
  return used / done;
}

export async function run(options: SuiteOptions = {}, args: { seconds?: number; rounds?: number } = {}): Promise<{ markdown: string; perEvent: Record<string, number> }> {
  const log = options.log ?? console.error;
  const seconds = args.seconds ?? (options.quick ? 0.5 : 1);
  const rounds = args.rounds ?? (options.quick ? 3 : 7);
  // As stored: parsed from JSON, every event's schema an object of its own.
  const planDocument = checkPlan(JSON.parse(JSON.stringify(benchPlan())));

  const compileStart = process.cpuUsage();
  await compilePlan(planDocument);
  const compileCpu = process.cpuUsage(compileStart);
  const compileMs = (compileCpu.user + compileCpu.system) / 1000;

  const plan = new CompiledPlan('src_bench', 1, planDocument, JSON.stringify(planDocument).length);
  const events = w1Events().map((e) => {
    const v = validateEvent(e);
    if (!v.ok) throw new Error(`a W1 event is invalid: ${v.errors.join('; ')}`);
    return v.event;
  });
  // Every event breaks the plan once (price below 0), for the cost of a flagged event.
  const flaggedEvents = w1Events().map((e) => ({ ...e, properties: { ...(e.properties as object), price: -1 } })).map((e) => validateEvent(e)).map((v) => (v.ok ? v.event : undefined)!);
  // The first event of each name compiles its schema: not part of the steady state measured below.
  const firstUseStart = process.cpuUsage();
  for (const event of events) plan.check(event);
  const firstUse = process.cpuUsage(firstUseStart);

  const normalize = createNormalizer({ sourceId: 'src_bench', receivedAtMs: Date.now(), ip: '203.0.113.9', ipPolicy: 'full' });
  let sink = 0;
  const withoutPlan: Step = (event) => {
    const v = validateEvent(event);
    if (!v.ok) throw new Error('invalid');
    sink += JSON.stringify(normalize(v.event)).length;
  };
  const withPlan: Step = (event) => {
    const v = validateEvent(event);
    if (!v.ok) throw new Error('invalid');
    const verdict = plan.check(v.event);
    const record = normalize(v.event);
    markChecked(record, plan.version, verdict?.violations);
    sink += JSON.stringify(record).length;
  };
  const checkOnly: Step = (event) => { sink += plan.check(event) ? 1 : 0; };

  const samples: Record<string, number[]> = { without: [], with: [], flagged: [], check: [] };
  // Warm both paths up (JIT), then alternate.
  cpuMicrosPerEvent(events, withoutPlan, seconds / 2);
  cpuMicrosPerEvent(events, withPlan, seconds / 2);
  for (let round = 0; round < rounds; round++) {
    samples.without.push(cpuMicrosPerEvent(events, withoutPlan, seconds));
    samples.with.push(cpuMicrosPerEvent(events, withPlan, seconds));
    samples.flagged.push(cpuMicrosPerEvent(flaggedEvents, withPlan, seconds));
    samples.check.push(cpuMicrosPerEvent(events, checkOnly, seconds));
    log(`plan validation round ${round + 1}/${rounds}: ${samples.without.at(-1)!.toFixed(2)} µs without a plan, ${samples.with.at(-1)!.toFixed(2)} µs with (${samples.flagged.at(-1)!.toFixed(2)} µs flagged), check alone ${samples.check.at(-1)!.toFixed(2)} µs`);
  }
  if (sink === 0) throw new Error('nothing was measured');
  const perEvent = {
    withoutPlan: median(samples.without),
    withPlan: median(samples.with),
    flagged: median(samples.flagged),
    checkOnly: median(samples.check),
  };
  const added = perEvent.withPlan - perEvent.withoutPlan;
  const addedFlagged = perEvent.flagged - perEvent.withoutPlan;
  const f = (x: number) => x.toFixed(2);
  const markdown = [
    `CPU time per event of the request path's per-event work (validate, normalize, JSON.stringify) on W1's events (~530 bytes, 3 names), without a plan and with the 100-event plan of the \`inlet-*-plan\` servers in flag mode (check, context.inlet.plan, serialize the extra bytes). Median of ${rounds} rounds of ~${seconds} s CPU each.`,
    '',
    '| per event | CPU µs |',
    '|---|--:|',
    `| without a plan | ${f(perEvent.withoutPlan)} |`,
    `| with the plan, event passes | ${f(perEvent.withPlan)} |`,
    `| with the plan, event flagged (one violation) | ${f(perEvent.flagged)} |`,
    `| plan.check alone (passing event) | ${f(perEvent.checkOnly)} |`,
    `| **added by the plan** (passing / flagged) | **${f(added)} / ${f(addedFlagged)}** |`,
    '',
    `Compiling the 100-event plan at put (meta-schema check, every schema): ${compileMs.toFixed(0)} ms CPU; each instance compiles an event's schema the first time that name arrives (${((firstUse.user + firstUse.system) / 1000).toFixed(1)} ms CPU for the 3 names W1 sends).`,
    '',
  ].join('\n');
  return { markdown, perEvent };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' } } });
  const result = await run({}, { seconds: values.seconds ? Number(values.seconds) : undefined, rounds: values.rounds ? Number(values.rounds) : undefined });
  console.log(result.markdown);
}
