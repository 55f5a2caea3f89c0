// Cost of one track() call on the page's main thread, in headless Chromium (Debian's /usr/bin/chromium).
//
// The page is cross-origin isolated (COOP/COEP), which gives performance.now() its finest
// resolution (5 µs in Chromium); single calls are still below that, so each sample times a group
// of consecutive calls and divides. Between rounds the page awaits flush(), so the queue stays at a
// realistic size and the sends to a real Inlet server (embedded sink) happen off the timed code,
// as they would in a page. Default options: batchSize 30, flushIntervalMs 5000.
//
//   node --import tsx bench/browser-track.ts [--rounds 20] [--per-round 25] [--group 20]
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startInlet } from '@inlet/testkit';
import { bundles } from '../packages/browser/scripts/build.js';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TrackCost {
  calls: number;
  group: number;
  crossOriginIsolated: boolean;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  maxSampleUs: number;
  delivered: number;
}

// Runs in the page (kept as a string: the bench is type-checked without DOM types).
const MEASURE = `async ({ writeKey, endpoint, rounds, perRound, group }) => {
  const analytics = new Inlet.Analytics({ writeKey, endpoint });
  const props = (k) => ({ product_id: 'p-' + k, price: 19.99, currency: 'EUR', category: 'shoes' });
  for (let i = 0; i < 1000; i++) analytics.track('Warm Up', props(i));
  await analytics.flush();
  const samples = [];
  const started = performance.now();
  let timed = 0;
  for (let r = 0; r < rounds; r++) {
    for (let s = 0; s < perRound; s++) {
      const t0 = performance.now();
      for (let k = 0; k < group; k++) analytics.track('Product Viewed', props(k));
      const t1 = performance.now();
      timed += t1 - t0;
      samples.push(((t1 - t0) / group) * 1000);
    }
    await analytics.flush();
  }
  return { samples, timed, isolated: self.crossOriginIsolated };
}`;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

export async function run(options: { rounds?: number; perRound?: number; group?: number } = {}): Promise<{ markdown: string; result: TrackCost }> {
  const rounds = options.rounds ?? 20;
  const perRound = options.perRound ?? 25;
  const group = options.group ?? 20;
  const { iife } = await bundles();
  const inlet = await startInlet({ rateLimit: { requestsPerMinute: 1e9, eventsPerMinute: 1e9, addressPercent: 100 } });
  const site = createServer((req, res) => {
    const isolation = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
    if (req.url === '/inlet.min.js') return res.writeHead(200, { 'content-type': 'text/javascript', ...isolation }).end(iife);
    res.writeHead(200, { 'content-type': 'text/html', ...isolation }).end('<!doctype html><title>Shop</title><script src="/inlet.min.js"></script><p>product page</p>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/product?id=42`);
    const out = (await page.evaluate(`(${MEASURE})(${JSON.stringify({ writeKey: inlet.writeKey, endpoint: inlet.url, rounds, perRound, group })})`)) as {
      samples: number[]; timed: number; isolated: boolean;
    };
    const sorted = [...out.samples].sort((a, b) => a - b);
    const calls = rounds * perRound * group;
    const delivered = (await inlet.events()).length - 1000; // the warm-up's
    const result: TrackCost = {
      calls,
      group,
      crossOriginIsolated: out.isolated,
      medianUs: quantile(sorted, 0.5),
      p99Us: quantile(sorted, 0.99),
      meanUs: (out.timed * 1000) / calls,
      maxSampleUs: sorted[sorted.length - 1],
      delivered,
    };
    const f = (n: number) => n.toFixed(2);
    const markdown = [
      '### Browser SDK: cost of one track() call (Chromium main thread)',
      '',
      '| calls | per sample | median µs | p99 µs | mean µs | worst sample µs | of them stored by the server |',
      '|--:|--:|--:|--:|--:|--:|--:|',
      `| ${calls} | ${group} calls | ${f(result.medianUs)} | ${f(result.p99Us)} | ${f(result.meanUs)} | ${f(result.maxSampleUs)} | ${delivered} |`,
      '',
      `Target: median under 20 µs. Timer: performance.now(), page ${out.isolated ? '' : 'NOT '}cross-origin isolated.`,
      '',
    ].join('\n');
    return { markdown, result };
  } finally {
    await browser.close();
    await new Promise((resolve) => site.close(resolve));
    await inlet.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'per-round': { type: 'string' }, group: { type: 'string' } } });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  console.log((await run({ rounds: num(values.rounds), perRound: num(values['per-round']), group: num(values.group) })).markdown);
}
