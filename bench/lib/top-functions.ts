// Summarizes a V8 .cpuprofile (from node --cpu-prof): the functions with the most self time, the
// most total (inclusive) time, and self time by module, so a profile can be read without a GUI.
//   node --import tsx bench/lib/top-functions.ts <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** time with the thread doing nothing (waiting for I/O) */
  idleMs: number;
  functions: FunctionTime[];
  modules: { module: string; selfMs: number }[];
}

/** node_modules/<pkg>, the workspace file, node:internal, or the V8 pseudo-frame. */
function moduleOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const workspace = /\/(packages\/[^/]+\/src\/.*|bench\/.*)$/.exec(url);
  return workspace ? workspace[1] : url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const workspace = /\/(packages\/.*|bench\/.*)$/.exec(url);
  return workspace ? workspace[1] : url.replace(/^file:\/\//, '');
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Line numbers only where they say something: tsx-compiled modules report 0 for every function.
  const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${n.callFrame.url}${n.callFrame.lineNumber > 0 ? `:${n.callFrame.lineNumber + 1}` : ''}`;

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const modules = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    totalUs += delta;
    if (node.callFrame.functionName === '(idle)') { idleUs += delta; continue; }
    const key = keyOf(node);
    self.set(key, (self.get(key) ?? 0) + delta);
    const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
    modules.set(mod, (modules.get(mod) ?? 0) + delta);
    // Inclusive time: every distinct function on the stack, once (recursion is not counted twice).
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + delta);
    }
  }
  const functions = [...total.keys()].map((key) => {
    const [name, where] = key.split('\u0000');
    return { name, where: shortUrl(where), selfMs: (self.get(key) ?? 0) / 1000, totalMs: (total.get(key) ?? 0) / 1000 };
  });
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    functions,
    modules: [...modules].map(([module, us]) => ({ module, selfMs: us / 1000 })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function loadProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** A markdown summary: busy time, top self, top total, top modules. */
export function formatSummary(title: string, s: ProfileSummary, top = 20): string {
  const busy = s.totalMs - s.idleMs;
  const pct = (ms: number) => `${busy > 0 ? ((ms / busy) * 100).toFixed(1) : '0'}%`;
  const fn = (f: FunctionTime, ms: number) => `| ${ms.toFixed(0)} | ${pct(ms)} | \`${f.name}\` | ${f.where.replace(/\|/g, '\\|')} |`;
  const lines = [
    `#### ${title}`,
    '',
    `${(s.totalMs / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s busy (${((busy / Math.max(1, s.totalMs)) * 100).toFixed(0)}%); percentages are of busy time.`,
    '',
    `Top ${top} by self time:`,
    '',
    '| self ms | % | function | where |',
    '|---:|---:|---|---|',
    ...[...s.functions].sort((a, b) => b.selfMs - a.selfMs).slice(0, top).map((f) => fn(f, f.selfMs)),
    '',
    `Top ${Math.min(top, 15)} by total (inclusive) time, excluding the runtime's own frames:`,
    '',
    '| total ms | % | function | where |',
    '|---:|---:|---|---|',
    ...[...s.functions].filter((f) => !f.name.startsWith('(') && f.where !== '').sort((a, b) => b.totalMs - a.totalMs).slice(0, Math.min(top, 15)).map((f) => fn(f, f.totalMs)),
    '',
    'Self time by module:',
    '',
    '| self ms | % | module |',
    '|---:|---:|---|',
    ...s.modules.slice(0, 15).map((m) => `| ${m.selfMs.toFixed(0)} | ${pct(m.selfMs)} | ${m.module} |`),
    '',
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 20;
  if (args.length === 0) {
    console.error('usage: node --import tsx bench/lib/top-functions.ts <file.cpuprofile>... [--top N]');
    process.exit(2);
  }
  for (const file of args) console.log(formatSummary(basename(file), summarize(loadProfile(file)), top));
}
