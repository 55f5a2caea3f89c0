// The HTTP results as markdown: one table for every cell, the issue's targets checked against it,
// and whatever went wrong.
import { formatRefused, sinkBound } from './admin.ts';
import type { Cell } from './harness.ts';

const num = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '–');

export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A merged cell: one per server, workload and concurrency over all rounds. */
export interface MergedCell extends Cell {
  /** median over rounds of events/s against the same round's reference / ceiling cell */
  vsReference: number;
  vsCeiling: number;
}

/**
 * One cell per server, workload and concurrency: the round with the median events/s stands for
 * the rest, its half-peak p99 replaced by the median of the rounds' (throughput and tails need not
 * be noisy in the same round). Ratios pair cells of the same round, which ran minutes apart,
 * before taking the median: the machine's speed drifts more between rounds than within one.
 */
export function mergeRounds(cells: Cell[]): MergedCell[] {
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const key = `${c.server}|${c.workload}|${c.connections}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const sameRound = (c: Cell, server: string) => cells.find((o) => o.server === server && o.workload === c.workload && o.connections === c.connections && o.round === c.round && !o.failure);
  const ratioTo = (group: Cell[], server: string) => median(group.map((c) => c.eventsPerSecond / (sameRound(c, server)?.eventsPerSecond ?? NaN)));
  return [...groups.values()].map((group) => {
    const vs = { vsReference: ratioTo(group, 'reference'), vsCeiling: ratioTo(group, 'ceiling') };
    const ok = group.filter((c) => !c.failure).sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
    if (group.length === 1 || ok.length === 0) return { ...group[0], ...vs };
    const middle = ok[(ok.length - 1) >> 1];
    const halves = ok.filter((c) => c.halfRate).sort((a, b) => a.halfRate!.latency.p99 - b.halfRate!.latency.p99);
    const halfRate = halves.length ? halves[(halves.length - 1) >> 1].halfRate : middle.halfRate;
    return {
      ...middle,
      ...vs,
      // CPU per event is steadier than events/s on a shared machine: the median of every round's.
      cpuMicrosPerEvent: median(ok.map((c) => c.cpuMicrosPerEvent)),
      mainMicrosPerEvent: median(ok.map((c) => c.mainMicrosPerEvent)),
      halfRate,
      rounds: { eventsPerSecond: group.map((c) => c.eventsPerSecond), halfRateP99: group.map((c) => c.halfRate?.latency.p99 ?? NaN) },
    };
  });
}

const perRound = (values: number[], format: (n: number) => string) => values.map(format).join(' / ');
const times = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–');

export function formatHttpTable(cells: MergedCell[]): string {
  const merged = cells.some((c) => c.rounds);
  const rows = cells.map((c) => {
    if (c.failure) return `| ${c.server} | ${c.workload} | ${c.connections} | failed: ${c.failure.split('\n')[0].replace(/\|/g, '/')} |${' |'.repeat(merged ? 15 : 14)}`;
    const half = c.halfRate ? `${ms(c.halfRate.latency.p99)} @ ${num(c.halfRate.requestsPerSecond)} req/s${sinkBound(c.halfRate.sinkWriteP99Ms)}` : '';
    const rounds = c.rounds ? ` | ${perRound(c.rounds.eventsPerSecond, (n) => num(n / 1000, 1) + 'k')}${c.halfRate ? ` (½: ${perRound(c.rounds.halfRateP99, ms)})` : ''}` : '';
    return `| ${c.server} | ${c.workload} | ${c.connections} | ${num(c.eventsPerSecond)} | ${num(c.requestsPerSecond)} | ${ms(c.latency.p50)} | ${ms(c.latency.p99)} | ${ms(c.latency.p999)} | ${num(c.serverCpu, 2)} | ${num(c.cpuMicrosPerEvent, 1)} (${num(c.mainMicrosPerEvent, 1)}) | ${num(c.peakRssBytes / 2 ** 20)} | ${c.non2xx} / ${c.errors} | ${times(c.vsReference)} | ${times(c.vsCeiling)} | ${half} | ${num(c.generatorCpu, 2)} | ${num(c.loadAverage, 1)} | ${Number.isFinite(c.cpuStall) ? `${(c.cpuStall * 100).toFixed(0)}%` : '–'}${rounds} |`;
  });
  return [
    `| server | workload | conns | events/s | req/s | p50 ms | p99 ms | p99.9 ms | server CPU (cores) | CPU µs/event (main thread) | peak RSS MB | non-2xx / errors | vs reference | vs ceiling | p99 ms at ½ peak | load-gen CPU | load avg | CPU stall |${merged ? ' events/s per round (½-peak p99 ms) |' : ''}`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${merged ? '---|' : ''}`,
    ...rows,
  ].join('\n');
}

/** The targets of issue 7, checked cell by cell (each concurrency separately). */
export function formatTargets(cells: MergedCell[]): string {
  const lines: string[] = [];
  const check = (what: string, pass: boolean | undefined, detail: string) => lines.push(`- ${pass === undefined ? '·' : pass ? 'PASS' : 'FAIL'} ${what}: ${detail}`);
  for (const c of cells.filter((x) => !x.failure && x.server === 'inlet-kafka')) {
    // W2 has one event per request, so its events/s ratio is its req/s ratio.
    const r = Number.isFinite(c.vsReference) ? c.vsReference : undefined;
    const q = Number.isFinite(c.vsCeiling) ? c.vsCeiling : undefined;
    if (c.workload === 'W1') {
      check(`W1 c${c.connections} Kafka ≥ 3× reference events/s`, r === undefined ? undefined : r >= 3, r === undefined ? 'no reference cell' : `${r.toFixed(2)}×`);
    } else if (c.workload === 'W2') {
      check(`W2 c${c.connections} Kafka ≥ 2× reference req/s`, r === undefined ? undefined : r >= 2, r === undefined ? 'no reference cell' : `${r.toFixed(2)}×`);
      check(`W2 c${c.connections} Kafka ≥ 70% of ceiling req/s`, q === undefined ? undefined : q >= 0.7, q === undefined ? 'no ceiling cell' : `${(q * 100).toFixed(0)}%`);
    }
  }
  for (const c of cells.filter((x) => !x.failure && x.server === 'inlet-embedded' && x.workload === 'W1')) {
    check(`W1 c${c.connections} embedded ≥ 100,000 events/s`, c.eventsPerSecond >= 100_000, `${num(c.eventsPerSecond)} events/s`);
  }
  // Failed events must not cost much: W1 with 10% of them invalid keeps within 10% of W1's events/s.
  for (const c of cells.filter((x) => !x.failure && x.workload === 'W1F' && x.server.startsWith('inlet'))) {
    const w1 = cells.find((x) => !x.failure && x.workload === 'W1' && x.server === c.server && x.connections === c.connections);
    const ratio = w1 ? c.eventsPerSecond / w1.eventsPerSecond : undefined;
    check(`${c.server} W1F c${c.connections} (10% invalid) within 10% of W1 events/s`, ratio === undefined ? undefined : ratio >= 0.9, ratio === undefined ? 'no W1 cell' : `${(ratio * 100).toFixed(0)}% of W1 (${num(c.eventsPerSecond)} vs ${num(w1!.eventsPerSecond)}; server CPU ${num(c.serverCpu, 2)} vs ${num(w1!.serverCpu, 2)} cores)`);
  }
  // A tracking plan in flag mode checks every event: W1 keeps at least 85% of its events/s without one.
  for (const c of cells.filter((x) => !x.failure && x.workload === 'W1' && x.server.endsWith('-plan'))) {
    const base = cells.find((x) => !x.failure && x.workload === 'W1' && x.server === c.server.replace(/-plan$/, '') && x.connections === c.connections);
    const ratio = base ? c.eventsPerSecond / base.eventsPerSecond : undefined;
    check(`${c.server} W1 c${c.connections} (100-event plan, flag) ≥ 85% of W1 without a plan`, ratio === undefined ? undefined : ratio >= 0.85, ratio === undefined ? `no ${c.server.replace(/-plan$/, '')} W1 cell` : `${(ratio * 100).toFixed(0)}% (${num(c.eventsPerSecond)} vs ${num(base!.eventsPerSecond)} events/s; server CPU ${num(c.serverCpu, 2)} vs ${num(base!.serverCpu, 2)} cores)`);
  }
  // Issue 17: server CPU (main and worker threads) per accepted event, W1; per request, W2.
  for (const c of cells.filter((x) => !x.failure && (x.server === 'inlet-embedded' || x.server === 'inlet-kafka') && x.workload !== 'W1F')) {
    const limit = c.workload === 'W2' ? 30 : c.server === 'inlet-embedded' ? 5 : 6;
    check(`${c.server} ${c.workload} c${c.connections} server CPU ≤ ${limit} µs per ${c.workload === 'W2' ? 'request' : 'event'}`, Number.isFinite(c.cpuMicrosPerEvent) ? c.cpuMicrosPerEvent <= limit : undefined, `${num(c.cpuMicrosPerEvent, 1)} µs`);
  }
  for (const c of cells.filter((x) => !x.failure && x.halfRate && x.server.startsWith('inlet'))) {
    check(`${c.server} ${c.workload} c${c.connections} p99 at half of peak < 10 ms`, c.halfRate!.latency.p99 < 10, `${ms(c.halfRate!.latency.p99)} ms at ${num(c.halfRate!.requestsPerSecond)} req/s${sinkBound(c.halfRate!.sinkWriteP99Ms)}`);
  }
  return lines.length ? lines.join('\n') : '- (no Inlet cells measured)';
}

/** Failures and unexpected status codes, in full. */
export function formatProblems(cells: Cell[]): string {
  const lines: string[] = [];
  for (const c of cells) {
    const label = `${c.server} ${c.workload} c${c.connections}${c.round > 1 ? ` round ${c.round}` : ''}`;
    if (c.failure) lines.push(`- ${label}: ${c.failure.split('\n').slice(0, 12).join('\n  ')}`);
    const odd = Object.entries(c.statusCodes).filter(([code]) => !code.startsWith('2'));
    const refused = c.refusedByBound?.size ? `; the server's 503s by bound, warm-up included: ${formatRefused(c.refusedByBound)}` : '';
    if (odd.length || c.errors || c.timeouts) lines.push(`- ${label}: status ${odd.map(([code, n]) => `${code}×${n}`).join(', ') || 'none non-2xx'}, ${c.errors} errors, ${c.timeouts} timeouts${refused}`);
    const h = c.halfRate;
    if (h && (h.non2xx || h.errors)) lines.push(`- ${label} at half rate: ${h.non2xx} non-2xx, ${h.errors} errors`);
    if (h && (h.backlog > 0 || h.requestsPerSecond < 0.95 * h.targetRate)) lines.push(`- ${label} at half rate: ${num(h.requestsPerSecond)} of ${num(h.targetRate)} req/s answered, ${h.backlog} requests never sent (server or generator fell behind; generator CPU ${num(h.generatorCpu, 2)})`);
    if (c.delivery && c.delivery.inTopic < c.delivery.acknowledged) lines.push(`- ${label}: ${c.delivery.acknowledged} events acknowledged but only ${c.delivery.inTopic} records in the topic`);
    if (h && h.generatorCpu > 0.8) lines.push(`- ${label} at half rate: the paced generator used ${h.generatorCpu.toFixed(2)} cores; its own delays may be in the latency`);
    if (c.generatorCpu > 0.9) lines.push(`- ${label}: the load generator used ${c.generatorCpu.toFixed(2)} cores; it may be what limits this cell`);
  }
  return lines.join('\n');
}

/** One line: did every Kafka cell's topic hold at least what the server acknowledged? */
export function formatDelivery(cells: Cell[]): string {
  const checked = cells.filter((c) => c.delivery);
  if (checked.length === 0) return '';
  const short = checked.filter((c) => c.delivery!.inTopic < c.delivery!.acknowledged);
  return short.length === 0
    ? `Delivery check: in all ${checked.length} Kafka cells the topic held at least every acknowledged event (${checked.map((c) => `${c.server} ${c.workload} c${c.connections}: ${c.delivery!.inTopic}/${c.delivery!.acknowledged}`).join('; ')}).`
    : `Delivery check FAILED in ${short.length} of ${checked.length} Kafka cells (see Problems).`;
}
