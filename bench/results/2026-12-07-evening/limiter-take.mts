// CPU per decision of the in-memory rate limiter: abed370's (a key's budgets) against this
// session's, for a key alone (server sources) and for a key with a client address's share (browser
// sources), in one process, alternated. Copy into packages/server/scratch-rl/ with abed370's
// limits/{memory-limiter,budgets,rate-limiter}.ts as old-memory-limiter.ts, old-budgets.ts and
// rate-limiter.ts there (old-memory-limiter.ts importing './old-budgets.ts'), then from
// packages/server/: node --conditions=inlet-source --import tsx scratch-rl/limiter-take.mts
import { MemoryRateLimiter as Old } from './old-memory-limiter.ts';
import { MemoryRateLimiter } from '../src/limits/memory-limiter.ts';
import { addressKey } from '../src/client-ip.ts';

const budgets = { requests: { limit: 1e9, windowMs: 60_000 }, events: { limit: 1e12, windowMs: 60_000 } };
const old = new Old(budgets);
const now = new MemoryRateLimiter({ ...budgets, addressPercent: 10, largestRequestEvents: 1000 });
// 1,000 client addresses in turn, as many visitors of one site.
const addresses = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
const cpuNs = (f: (i: number) => void, n: number) => {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f(i);
  const u = process.cpuUsage(t);
  return ((u.user + u.system) / n) * 1000;
};
const rows: number[][] = [];
for (let round = 0; round < 9; round++) {
  const a = cpuNs(() => old.take('src_123', 1), 1e6);
  const b = cpuNs(() => now.take('src_123', 1), 1e6);
  const c = cpuNs((i) => now.take('src_123', 1, addressKey(addresses[i % 1000])), 1e6);
  rows.push([a, b, c]);
  console.log(`round ${round}: abed370 ${a.toFixed(0)} ns, now key only ${b.toFixed(0)} ns, now key + address ${c.toFixed(0)} ns`);
}
const median = (i: number) => rows.map((r) => r[i]).sort((x, y) => x - y)[Math.floor(rows.length / 2)];
console.log(`median of ${rows.length} rounds: abed370 ${median(0).toFixed(0)} ns, key only ${median(1).toFixed(0)} ns, key + address ${median(2).toFixed(0)} ns per decision`);
