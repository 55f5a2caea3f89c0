// The tracking plan of the `inlet-*-plan` servers: 100 planned events (the workload's three and 97
// others), every property typed, in flag mode, so W1 measures what checking each event against a
// plan costs on top of W1 without one. Unplanned names are blocked: the harness knows the server
// has applied the plan once a probe event with an unplanned name is refused.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ServerContext } from './servers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** The names workloads.ts gives its events. */
const WORKLOAD_EVENTS = ['Product Viewed', 'Added To Cart', 'Checkout Started'];

const productSchema = {
  type: 'object',
  required: ['product_id', 'price', 'currency'],
  properties: {
    product_id: { type: 'string', maxLength: 64 },
    name: { type: 'string' },
    price: { type: 'number', minimum: 0 },
    currency: { enum: ['EUR', 'USD', 'GBP'] },
    quantity: { type: 'integer', minimum: 1 },
  },
};

export function benchPlan(): Record<string, unknown> {
  const names = [...WORKLOAD_EVENTS, ...Array.from({ length: 100 - WORKLOAD_EVENTS.length }, (_, i) => `Planned Event ${i + 1}`)];
  return {
    unplanned: 'block',
    violations: 'flag',
    events: Object.fromEntries(names.map((name) => [name, { properties: productSchema }])),
  };
}

/** Puts the plan on the server's source (`inlet plans put`, beside the running server) and waits until the server applies it. */
export async function applyBenchPlan(ctx: ServerContext, url: string, writeKey: string): Promise<void> {
  const file = join(ctx.dataDir, 'bench-plan.json');
  writeFileSync(file, JSON.stringify(benchPlan()));
  await promisify(execFile)(process.execPath, [resolve(ROOT, 'packages/server/bin/inlet.js'), 'plans', 'put', '--source', 'default', file], {
    env: { ...process.env, INLET_DATA_DIR: ctx.dataDir, DATABASE_URL: '', KAFKA_BROKERS: '' },
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await fetch(`${url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body: JSON.stringify({ userId: 'bench', event: 'Unplanned Probe' }),
    });
    const body = (await response.json()) as { code?: string };
    if (body.code === 'INLET_PLAN_VIOLATION') return;
    if (Date.now() > deadline) throw new Error('the server did not apply the bench plan within 15 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}
