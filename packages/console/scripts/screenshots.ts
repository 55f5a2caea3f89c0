// `npm run screenshots`: docs/console-*.png from the real console. Starts a real server (embedded
// store, a temporary data directory), sends it a little traffic of several sources — some events
// invalid, some blocked by a tracking plan — and photographs each page in headless Chromium
// (/usr/bin/chromium, or CHROMIUM_PATH). Run it again after changing the console; never edit the images.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startInlet } from '@inlet/testkit';

const ROOT = resolve(import.meta.dirname, '../../..');
const OUT = join(ROOT, 'docs');
mkdirSync(OUT, { recursive: true });

const inlet = await startInlet();
const admin = (path: string, method = 'GET', body?: unknown) => fetch(`${inlet.adminUrl}${path}`, {
  method, headers: { authorization: `Bearer ${inlet.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
}).then((r) => r.json() as Promise<any>);
const post = (key: string, path: string, body: unknown) => fetch(`${inlet.url}${path}`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` }, body: JSON.stringify(body),
});

const web = (await admin('/api/sources', 'POST', { name: 'shop-web', ipPolicy: 'anonymize' })).source;
const api = (await admin('/api/sources', 'POST', { name: 'billing-api' })).source;
await admin(`/api/sources/${api.id}/plan`, 'PUT', {
  unplanned: 'block', violations: 'block',
  events: { 'Invoice Paid': { properties: { type: 'object', required: ['amount', 'currency'], properties: { amount: { type: 'number' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } } } } },
});
await admin(`/api/sources/${api.id}/plan`, 'PUT', {
  unplanned: 'block', violations: 'block',
  events: { 'Invoice Paid': { properties: { type: 'object', required: ['amount', 'currency'], properties: { amount: { type: 'number' }, currency: { type: 'string' } } } }, 'Invoice Sent': {} },
});

const NAMES = ['Product Viewed', 'Added To Cart', 'Checkout Started', 'Order Completed', 'Signed Up'];
let n = 0;
async function traffic(): Promise<void> {
  const i = n++;
  const user = `user-${(i * 7) % 23}`;
  if (i % 4 === 0) await post(web.writeKey, '/v1/page', { anonymousId: `anon-${i % 11}`, name: 'Pricing', properties: { path: '/pricing' } });
  else await post(web.writeKey, '/v1/track', { userId: user, event: NAMES[i % NAMES.length], properties: { sku: `SKU-${100 + (i % 9)}`, price: 9.5 + (i % 5) } });
  if (i % 3 === 0) await post(api.writeKey, '/v1/track', { userId: user, event: 'Invoice Paid', properties: { amount: 120 + i, currency: 'EUR' } });
  if (i % 9 === 4) await post(web.writeKey, '/v1/track', { userId: user, properties: { note: 'no event name' } });
  if (i % 11 === 5) await post(api.writeKey, '/v1/track', { userId: user, event: 'Invoice Paid', properties: { amount: 'twelve' } });
}
for (let i = 0; i < 120; i++) await traffic();
const timer = setInterval(() => { void traffic(); }, 150);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  const shot = (name: string) => page.screenshot({ path: join(OUT, `console-${name}.png`) });
  await page.goto(`${inlet.adminUrl}/console`);
  await page.fill('input[name=token]', 'inlet_at_…');
  await shot('login');
  await page.fill('input[name=token]', inlet.adminToken!);
  await page.click('button[type=submit]');
  await page.locator('.status-live').waitFor();
  await page.waitForTimeout(3000);
  await page.locator('.live-row:not(.failed)').nth(2).click();
  await shot('live');

  await page.goto(`${inlet.adminUrl}/console#/failed`);
  await page.locator('.failed-row').first().click();
  await page.click('button.dry-run');
  await page.locator('.replay-check').waitFor();
  await shot('failed');

  await page.goto(`${inlet.adminUrl}/console#/sources`);
  await page.click(`.source-row:has-text("shop-web")`);
  await page.locator('.chart canvas').waitFor();
  await page.waitForTimeout(500);
  await shot('sources');

  await page.goto(`${inlet.adminUrl}/console#/plans`);
  await page.selectOption('select[name=source]', api.id);
  await page.locator('.plans tbody tr').first().waitFor();
  await shot('plans');

  await page.goto(`${inlet.adminUrl}/console#/health`);
  await page.locator('.sink-kind').waitFor();
  // Rates need two reads of the counts, 5 s apart.
  await page.waitForFunction(() => !(globalThis as any).document.querySelector('.requests').textContent.includes('…'), undefined, { timeout: 15_000 });
  await shot('health');
  console.log(`wrote ${['login', 'live', 'failed', 'sources', 'plans', 'health'].map((p) => `docs/console-${p}.png`).join(', ')}`);
} finally {
  clearInterval(timer);
  await browser.close();
  await inlet.close();
}
