// The admin listener of an Inlet server under test: its address and token from the banner of the
// server's first start, and what its /metrics says. node:http, not fetch: the client's own CPU is
// part of the machine the server shares.
import { request } from 'node:http';

/** The admin address and token the server's first start printed; undefined for a server that printed none (a baseline). */
export function adminOf(banner: string[]): { admin: string; token: string } | undefined {
  const admin = banner.map((line) => /Admin API and \/metrics on (http:\/\/\S+)/.exec(line)?.[1]).find(Boolean);
  const token = banner.map((line) => /Admin token \(.*\): (\S+)$/.exec(line)?.[1]).find(Boolean);
  return admin && token ? { admin, token } : undefined;
}

/** The server's /metrics text, or undefined for a server without an admin listener (a baseline). */
export function adminMetricsIfAny(banner: string[]): Promise<string | undefined> {
  const admin = adminOf(banner);
  if (!admin) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const req = request(`${admin.admin}/metrics`, { headers: { authorization: `Bearer ${admin.token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The 503s the server counted by bound between two /metrics texts (bounds with none left out). */
export function refusedBetween(before: string, after: string): Map<string, number> {
  const counted = refusalsByBound(before);
  return new Map([...refusalsByBound(after)].map(([bound, n]) => [bound, n - (counted.get(bound) ?? 0)] as const).filter(([, n]) => n > 0));
}

/** A histogram bucket's upper bound in ms as the server's buckets name it: `2.5`, `10`, `∞`; `–` for none. */
export const formatBucketBound = (ms: number) => (ms === Infinity ? '∞' : Number.isFinite(ms) ? String(Number(ms.toFixed(1))) : '–');

/** `, sink ≤ 10` after a half-peak p99, or nothing when the server has no such histogram or stored nothing. */
export const sinkBound = (p99Ms: number | undefined) => (p99Ms === undefined || Number.isNaN(p99Ms) ? '' : `, sink ≤ ${formatBucketBound(p99Ms)}`);

/** `loop 805, late 12`, or `none`. */
export const formatRefused = (refused: Map<string, number>) => [...refused].map(([bound, n]) => `${bound} ${n}`).join(', ') || 'none';

/** inlet_overload_refusals_total by its bound label, from a /metrics text. */
export function refusalsByBound(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of metrics.matchAll(/^inlet_overload_refusals_total\{(?:[^}]*,)?bound="([^"]+)"[^}]*\} (\d+)/gm)) counts.set(match[1], Number(match[2]));
  return counts;
}

/** A histogram's cumulative bucket counts by upper bound (seconds), for the series whose labels include `labels` (e.g. `outcome="stored"`). */
export function histogramBuckets(metrics: string, name: string, labels: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`) || !line.includes(labels)) continue;
    const le = /[{,]le="([^"]+)"/.exec(line)?.[1];
    if (le !== undefined) buckets.set(le === '+Inf' ? Infinity : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

/**
 * The p50 and p99 of the sink's write time between two /metrics texts, in ms, as the upper bounds of
 * the buckets holding them. The server times a write from handing it to the sink until its main
 * thread sees it durable, so the path to the disk or the broker plus the wait for the main thread
 * to take the answer: the sink's share of a request's time, at most.
 */
export function sinkWriteMsBetween(before: string, after: string): { p50: number; p99: number } {
  const [from, to] = [before, after].map((text) => histogramBuckets(text, 'inlet_sink_write_seconds', 'outcome="stored"'));
  return { p50: bucketQuantile(from, to, 0.5) * 1000, p99: bucketQuantile(from, to, 0.99) * 1000 };
}

/** The upper bound of the bucket holding quantile `q` of what was observed between two snapshots; NaN when nothing was. */
export function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (!(total > 0)) return NaN;
  for (const bound of bounds) if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= q * total) return bound;
  return Infinity;
}
