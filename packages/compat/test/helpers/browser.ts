// Headless Chromium (Debian's, never downloaded) with the network closed beyond 127.0.0.1: every
// other host fails to resolve, and every request the page attempts is recorded, so a test can
// assert that an SDK ran against Inlet alone, and read what it sent.
import { build } from 'esbuild';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { needChromium } from '@inlet/testkit';

export const chromiumNeed = await needChromium();

const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-domain-reliability',
  // Nothing but the loopback: an SDK that reaches for its vendor's CDN or API fails to resolve it.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumNeed.value!, args: ARGS });
}

/** One request the page made, as the browser sent it. */
export interface WireRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** the response status; 0 when the request failed; undefined while it is under way */
  status: number | undefined;
}

export interface Recorded {
  context: BrowserContext;
  page: Page;
  /** requests to 127.0.0.1, in the order they were made */
  wire: WireRequest[];
  /** every URL the page tried to reach on another host */
  offHost: string[];
}

interface CdpRequest { requestId: string; request: { url: string; method: string; headers: Record<string, string>; postData?: string; hasPostData?: boolean } }

const lowerKeys = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

/**
 * A fresh context (its own storage) and page that record the page's network use. Through the
 * DevTools protocol rather than Playwright's request events: those carry no body for
 * navigator.sendBeacon, and the full headers only arrive in the protocol's extra-info events.
 */
export async function openRecorded(browser: Browser): Promise<Recorded> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const recorded: Recorded = { context, page, wire: [], offHost: [] };
  const byId = new Map<string, WireRequest>();
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.requestWillBeSent', (event: CdpRequest) => {
    const url = new URL(event.request.url);
    if (!url.protocol.startsWith('http')) return;
    if (url.hostname !== '127.0.0.1') {
      recorded.offHost.push(url.href);
      return;
    }
    const wire: WireRequest = { url, method: event.request.method, headers: { ...lowerKeys(event.request.headers), ...byId.get(event.requestId)?.headers }, body: event.request.postData, status: undefined };
    byId.set(event.requestId, wire);
    recorded.wire.push(wire);
    if (wire.body === undefined && event.request.hasPostData) {
      void cdp.send('Network.getRequestPostData', { requestId: event.requestId }).then((data) => { wire.body = data.postData; }, () => {});
    }
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (event: { requestId: string; headers: Record<string, string> }) => {
    const wire = byId.get(event.requestId);
    if (wire) Object.assign(wire.headers, lowerKeys(event.headers));
    else byId.set(event.requestId, { url: new URL('http://pending'), method: '', headers: lowerKeys(event.headers), body: undefined, status: undefined });
  });
  cdp.on('Network.responseReceived', (event: { requestId: string; response: { status: number } }) => {
    const wire = byId.get(event.requestId);
    if (wire) wire.status = event.response.status;
  });
  cdp.on('Network.loadingFailed', (event: { requestId: string }) => {
    const wire = byId.get(event.requestId);
    if (wire && wire.status === undefined) wire.status = 0;
  });
  await cdp.send('Network.enable');
  page.on('pageerror', (error) => console.error('# page error:', error.message));
  return recorded;
}

/** An SDK's own npm build, bundled by esbuild into one script that puts `globalName` on window. */
export async function bundle(entry: string): Promise<string> {
  const result = await build({
    stdin: { contents: entry, resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return result.outputFiles[0].text;
}

export interface Site {
  url: string;
  close(): Promise<void>;
}

/** The test site: a page that loads the SDK script, on its own port (so posts to Inlet are cross-origin). */
export async function startSite(script: string): Promise<Site> {
  const page = '<!doctype html><meta charset="utf-8"><title>compat</title><script src="/sdk.js"></script>';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/sdk.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    if (path === '/page.html') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Polls until `check` returns a value, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
