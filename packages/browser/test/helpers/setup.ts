// Shared setup of the Chromium suites: one real Inlet server, one static site, one browser per file.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { needChromium, startInlet, type TestInlet } from '@inlet/testkit';
import { launchChromium } from './browser.ts';
import { startSite, type Site } from './site.ts';

export interface Env {
  browser: Browser;
  inlet: TestInlet;
  site: Site;
}

export const chromiumNeed = await needChromium();

export async function startEnv(): Promise<Env> {
  const [browser, inlet, site] = await Promise.all([launchChromium(chromiumNeed.value!), startInlet(), startSite()]);
  return { browser, inlet, site };
}

export async function stopEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  await Promise.allSettled([env.browser.close(), env.inlet.close(), env.site.close()]);
}

/** A fresh context (its own storage) and page; close the context when done. */
export async function openPage(env: Env): Promise<{ context: BrowserContext; page: Page }> {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('# page error:', error.message));
  return { context, page };
}
