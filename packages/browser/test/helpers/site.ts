// The test site: a node:http static server on its own port (so requests to Inlet are cross-origin
// and CORS is real), serving the SDK built in memory from the current source and the fixtures.
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { bundles } from '../../scripts/build.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8');

export interface Site {
  url: string;
  /** URL of the generic test page that creates `window.analytics` from `options`; `tag` marks its events. */
  page(tag: string, options: Record<string, unknown>, file?: string): string;
  /** A page that loads the SDK with the README's snippet, then runs `calls` (JS) before it has loaded. */
  snippetPage(tag: string, writeKey: string, endpoint: string, calls: string, src?: string): string;
  close(): Promise<void>;
}

export async function startSite(): Promise<Site> {
  const { esm, iife } = await bundles();
  const snippets = new Map<string, string>();
  const files: Record<string, [type: string, body: () => string]> = {
    '/inlet.min.js': ['text/javascript', () => iife],
    '/index.js': ['text/javascript', () => esm],
    '/plugins.js': ['text/javascript', () => fixture('plugins.js')],
    '/page.html': ['text/html', () => fixture('page.html')],
    '/esm.html': ['text/html', () => fixture('esm.html')],
    '/other.html': ['text/html', () => fixture('other.html')],
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const snippet = snippets.get(path);
    const file = files[path];
    if (!file && !snippet) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': `${snippet ? 'text/html' : file[0]}; charset=utf-8`, 'cache-control': 'no-store' });
    res.end(snippet ?? file[1]());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    page: (tag, options, file = 'page.html') => `${url}/${file}?t=${encodeURIComponent(tag)}&cfg=${encodeURIComponent(JSON.stringify(options))}`,
    snippetPage(tag, writeKey, endpoint, calls, src = `${url}/inlet.min.js`) {
      const path = `/snippet-${snippets.size}.html`;
      const code = fixture('snippet.js')
        .replace('https://inlet.example.com/sdk/inlet.min.js', src)
        .replace('YOUR_WRITE_KEY', writeKey)
        .replace("endpoint: 'https://inlet.example.com'", `endpoint: ${JSON.stringify(endpoint)}`);
      snippets.set(path, `<!doctype html><meta charset="utf-8"><title>snippet</title><script>${code}</script><script>${calls}</script>`);
      return `${url}${path}?t=${encodeURIComponent(tag)}&`;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
