// How results are shown: one block per drill on the console, and RELIABILITY.md (the command, the
// date, the machine, the table, then what each drill does and what it found).
import os from 'node:os';
import type { Drill, DrillResult } from './drill.ts';
import { passed, reason } from './drill.ts';
import { mb, seconds } from './measure.ts';

const dash = '—';
const num = (n: number | undefined) => (n === undefined ? dash : String(n));

export function statusText(statuses: Record<string, number>): string {
  const entries = Object.entries(statuses).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([s, n]) => `${s}: ${n}`).join(', ') : dash;
}

export function recoveryText(result: DrillResult): string {
  if (result.recoveryMs.length === 0) return dash;
  if (result.recoveryMs.length === 1) return seconds(result.recoveryMs[0]);
  return `${result.recoveryMs.map(seconds).join(' / ')}`;
}

export function verdictText(result: DrillResult): string {
  return passed(result) ? 'pass' : 'FAIL';
}

/** The console block printed after each drill. */
export function consoleBlock(result: DrillResult): string {
  return [
    `${verdictText(result)}  ${result.name} (${seconds(result.durationMs)})`,
    `  acked ${num(result.acked)}  stored ${num(result.stored)}  lost ${num(result.lost)}  duplicates ${num(result.duplicates)}`,
    `  statuses ${statusText(result.statuses)}`,
    `  recovery ${recoveryText(result)}  peak RSS ${result.peakRssBytes ? mb(result.peakRssBytes) : dash}`,
    ...result.notes.map((n) => `  ${n}`),
    `  ${reason(result)}`,
  ].join('\n');
}

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  kernel: string;
  node: string;
  loadAverage: string;
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => l.toFixed(1)).join(' / '),
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export interface ReportInput {
  command: string;
  startedAt: Date;
  durationMs: number;
  machine: Machine;
  quick: boolean;
  drills: Drill[];
  results: DrillResult[];
  /** paragraphs placed before the table (what is real, what is emulated, noise) */
  preface: string[];
}

export function reliabilityMarkdown(input: ReportInput): string {
  const { results } = input;
  const failed = results.filter((r) => !passed(r));
  const m = input.machine;
  const lines = [
    '# Reliability',
    '',
    'What the chaos suite (`chaos/`, issue 16) measured: real server, broker, processor, Redis and PostgreSQL',
    'processes on one machine, each drill doing one bad thing to them under bounded load. A drill **fails**',
    'when any of its checks fails — including the findings the hardening work of issue 16 has yet to fix,',
    'which are reported with their measurement rather than hidden.',
    '',
    `- Command: \`${input.command}\`${input.quick ? ' (quick: shortened phases and attacks)' : ''}`,
    `- Date: ${input.startedAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')} (the run took ${Math.round(input.durationMs / 60_000)} min)`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memory} RAM, ${m.kernel}, Node ${m.node}; load average at start ${m.loadAverage}`,
    `- Result: ${results.length - failed.length} of ${results.length} drills passed${failed.length ? `; failing: ${failed.map((r) => r.name).join(', ')}` : ''}`,
    '',
    ...input.preface.flatMap((p) => [p, '']),
    '| drill | verdict | acked | stored | lost | duplicates | statuses | recovery | peak RSS | reason |',
    '|---|---|---:|---:|---:|---:|---|---|---:|---|',
    ...results.map((r) => `| [${r.name}](#${r.name}) | ${verdictText(r)} | ${num(r.acked)} | ${num(r.stored)} | ${num(r.lost)} | ${num(r.duplicates)} | ${cell(statusText(r.statuses))} | ${recoveryText(r)} | ${r.peakRssBytes ? mb(r.peakRssBytes) : dash} | ${cell(reason(r))} |`),
    '',
    '## The drills',
    '',
  ];
  for (const result of results) {
    const drill = input.drills.find((d) => d.name === result.name);
    lines.push(`### ${result.name}`, '', `**${result.title}** — ${verdictText(result)} (${seconds(result.durationMs)})`, '');
    if (drill) lines.push(drill.description, '');
    for (const check of result.checks) {
      lines.push(`- ${check.ok ? '✔' : '✖'} ${check.name}: ${check.detail}${check.hardening && !check.ok ? ` *(hardening: ${check.hardening})*` : ''}`);
    }
    for (const note of result.notes) lines.push(`- ${note}`);
    if (result.error) lines.push(`- did not finish: \`${result.error.split('\n')[0]}\``);
    lines.push('');
  }
  return lines.join('\n');
}
