// The proof of first-party collection, in headless Chromium: a page served by an app with
// inletCollect (Express, Fastify, a fetch-style handler), whose browser refuses every request to
// the Inlet server's own origin — what an ad-blocker does — still delivers every event; the stored
// events carry the browser's address (not the app's), and the identity survives cleared storage.
//
// The app reaches Inlet from 127.0.0.3 and the browser reaches the app from 127.0.0.1, so the two
// addresses differ. Express relies on Inlet's TRUSTED_PROXIES; Fastify and the fetch handler on the
// signed header (an Inlet server without TRUSTED_PROXIES).
//
// The SDK file comes from the Inlet server's dist/ build through the proxy; it is rebuilt from the
// current source first when it differs (what `npm run build -w @inlet/browser` does).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { needChromium, startInlet, type TestInlet } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import { bundles } from '../../browser/scripts/build.js';
import { launchChromium } from '../../browser/test/helpers/browser.ts';
import { waitFor } from '../../browser/test/helpers/events.ts';
import { startApp, type App, type Kind } from './support/collect-apps.ts';

const chromium = await needChromium();
const SECRET = 'collect-chromium-secret-0123456789';
const APP_ADDRESS = '127.0.0.3';
const SNIPPET = readFileSync(join(import.meta.dirname, 'fixtures/collect-snippet.js'), 'utf8').trim();

/** The built SDK that the Inlet server serves must be the current source's. */
async function freshSdkBuild(): Promise<void> {
  const { iife } = await bundles();
  const dist = join(import.meta.dirname, '../../browser/dist');
  const file = join(dist, 'inlet.min.js');
  if (existsSync(file) && readFileSync(file, 'utf8') === iife) return;
  mkdirSync(dist, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, iife);
  renameSync(temporary, file); // atomic: a server starting meanwhile reads the old file or the new one
  console.log('# rebuilt packages/browser/dist/inlet.min.js from the current source');
}

const pageHtml = (writeKey: string) => `<!doctype html><meta charset="utf-8"><title>shop</title><script>${SNIPPET.replace('YOUR_WRITE_KEY', writeKey)}</script><p>a shop</p>`;

interface Visit {
  context: BrowserContext;
  page: Page;
  /** requests the page tried to send to the Inlet server's origin (all refused) */
  blocked: string[];
}

async function visit(browser: Browser, app: App, inlet: TestInlet): Promise<Visit> {
  const context = await browser.newContext();
  const blocked: string[] = [];
  // The ad-blocker: nothing may reach the Inlet server's origin.
  await context.route(`${inlet.url}/**`, (route) => {
    blocked.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('# page error:', error.message));
  await page.goto(`${app.url}/`);
  await page.waitForFunction(() => typeof (globalThis as any).inlet?.flush === 'function' && !Array.isArray((globalThis as any).inlet));
  return { context, page, blocked };
}

/** Tracks `count` events, awaits flush(), returns their messageIds. */
function trackSome(page: Page, name: string, count: number): Promise<string[]> {
  return page.evaluate(async ([event, n]) => {
    const inlet = (globalThis as any).inlet;
    const ids = Array.from({ length: n }, (_, i) => inlet.track(event, { i }) as string);
    await inlet.flush();
    return ids;
  }, [name, count] as const);
}

async function storedByIds(inlet: TestInlet, ids: string[]): Promise<NormalizedRecord[]> {
  return waitFor(`${ids.length} events stored`, async () => {
    const found = (await inlet.events()).filter((e) => ids.includes(e.messageId));
    return found.length === ids.length ? found : undefined;
  });
}

async function identityCookie(context: BrowserContext, app: App) {
  return (await context.cookies(`${app.url}/_i/v1/batch`)).find((c) => c.name === 'inlet_id');
}

describe('first-party collection in Chromium, with the Inlet server blocked', { skip: chromium.skip }, () => {
  let browser: Browser;
  let trusting: TestInlet;
  let verifying: TestInlet;
  before(async () => {
    await freshSdkBuild();
    [browser, trusting, verifying] = await Promise.all([
      launchChromium(chromium.value!),
      startInlet({ trustedProxies: [APP_ADDRESS] }),
      startInlet({ proxySecret: SECRET }),
    ]);
  });
  after(async () => {
    await Promise.allSettled([browser?.close(), trusting?.close(), verifying?.close()]);
  });

  const setups: { kind: Kind; how: string; inlet: () => TestInlet; secret?: string }[] = [
    { kind: 'express', how: 'TRUSTED_PROXIES', inlet: () => trusting },
    { kind: 'fastify', how: 'a signed header', inlet: () => verifying, secret: SECRET },
    { kind: 'fetch', how: 'a signed header', inlet: () => verifying, secret: SECRET },
  ];

  for (const { kind, how, inlet: inletOf, secret } of setups) {
    test(`${kind}: every event arrives through the app, with the browser's address (by ${how}) and one identity across cleared storage`, async () => {
      const inlet = inletOf();
      const app = await startApp(kind, { target: inlet.url, path: '/_i', secret, agent: new http.Agent({ keepAlive: true, localAddress: APP_ADDRESS }) }, { page: pageHtml(inlet.writeKey) });
      const { context, page, blocked } = await visit(browser, app, inlet);
      try {
        assert.ok(!(await page.content()).includes(inlet.url), 'nothing in the page names the Inlet server');
        const ids = await trackSome(page, `${kind} first visit`, 5);
        const cookie = await identityCookie(context, app);
        assert.ok(cookie, 'the identity cookie is set');
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, 'Lax');
        assert.equal(cookie.path, '/_i');
        assert.equal(cookie.secure, false, 'the page is http');
        const yearFromNow = Date.now() / 1000 + 365 * 24 * 3600;
        assert.ok(Math.abs(cookie.expires - yearFromNow) < 120, 'expires in a year');
        const seenByPage = await page.evaluate(() => ({
          cookies: (globalThis as any).document.cookie as string,
          stored: (globalThis as any).localStorage.getItem('ajs_anonymous_id') as string | null,
          anonymousId: (globalThis as any).inlet.anonymousId as string | undefined,
        }));
        assert.doesNotMatch(seenByPage.cookies, /inlet_id/, 'httpOnly: no script on the page can read it');
        assert.deepEqual([seenByPage.stored, seenByPage.anonymousId], [null, undefined], 'the page keeps no anonymous id of its own');

        const first = await storedByIds(inlet, ids);
        for (const event of first) {
          assert.equal(event.anonymousId, cookie.value);
          assert.equal(event.context?.ip, '127.0.0.1', `the browser's address, not the app's (${APP_ADDRESS})`);
        }
        const pageView = await waitFor('the snippet\'s page view', async () => (await inlet.events()).find((e) => e.type === 'page' && e.anonymousId === cookie.value));
        assert.equal(pageView.context?.ip, '127.0.0.1');

        // What Safari's ITP does to script-written storage after 7 days, and privacy cleaners at once.
        await page.evaluate(() => {
          (globalThis as any).localStorage.clear();
          (globalThis as any).sessionStorage.clear();
        });
        await page.reload();
        await page.waitForFunction(() => typeof (globalThis as any).inlet?.flush === 'function' && !Array.isArray((globalThis as any).inlet));
        const later = await storedByIds(inlet, await trackSome(page, `${kind} after clearing storage`, 3));
        for (const event of later) assert.equal(event.anonymousId, cookie.value, 'the same identity after storage was cleared');
        assert.equal((await identityCookie(context, app))?.value, cookie.value);

        assert.deepEqual(blocked, [], 'the page never even tried the Inlet server\'s origin');
      } finally {
        await context.close();
        await app.close();
      }
    });
  }

  test('the blocking is real: the same page pointed at the Inlet server itself delivers nothing', async () => {
    const inlet = trusting;
    const html = `<!doctype html><meta charset="utf-8"><script>${SNIPPET.replace('YOUR_WRITE_KEY', inlet.writeKey).replace("'/_i/sdk.js'", `'${inlet.url}/sdk/inlet.min.js'`).replace("endpoint: '/_i', identity: 'server'", `endpoint: '${inlet.url}'`)}</script>`;
    const app = await startApp('express', { target: inlet.url }, { page: html });
    const context = await browser.newContext();
    const blocked: string[] = [];
    await context.route(`${inlet.url}/**`, (route) => {
      blocked.push(new URL(route.request().url()).pathname);
      return route.abort('blockedbyclient');
    });
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/`);
      await waitFor('the SDK file request to be blocked', () => blocked.includes('/sdk/inlet.min.js'));
      assert.equal(await page.evaluate(() => Array.isArray((globalThis as any).inlet)), true, 'the SDK never loaded; the calls stay queued in the page');
    } finally {
      await context.close();
      await app.close();
    }
  });

  test('express with a consent switch: no cookie before consent, events still delivered; after consent the identity holds', async () => {
    const inlet = trusting;
    const app = await startApp('express', {
      target: inlet.url,
      agent: new http.Agent({ localAddress: APP_ADDRESS }),
      consent: (req: http.IncomingMessage) => /(^|;\s*)consent=yes/.test(req.headers.cookie ?? ''),
    }, { page: pageHtml(inlet.writeKey) });
    const { context, page } = await visit(browser, app, inlet);
    try {
      const before = await storedByIds(inlet, await trackSome(page, 'before consent', 3));
      assert.equal(await identityCookie(context, app), undefined, 'no identity cookie without consent');
      for (const event of before) assert.match(String(event.anonymousId), /^[0-9a-f-]{36}$/, 'an id per request, from the proxy');

      await context.addCookies([{ name: 'consent', value: 'yes', url: app.url }]);
      const ids = [...await trackSome(page, 'after consent', 2), ...await trackSome(page, 'after consent, again', 2)];
      const cookie = await identityCookie(context, app);
      assert.ok(cookie, 'consent given: the cookie is set');
      for (const event of await storedByIds(inlet, ids)) assert.equal(event.anonymousId, cookie.value);
    } finally {
      await context.close();
      await app.close();
    }
  });
});
