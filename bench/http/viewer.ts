// One console viewer: the console's own live stream (GET /api/live on the admin listener,
// server-sent events), read as fast as it comes and thrown away, as a browser tab would read it
// (issue 15: ingestion with a viewer at W1 peak within 5% of none). Used by the `inlet-*-viewer`
// servers of the HTTP matrix and by the paired viewer suite (viewer-cost.ts).
import { request } from 'node:http';
import type { ServerContext } from './servers.ts';

export interface Viewer {
  /** bytes of the stream read so far */
  bytes(): number;
  close(): void;
}

/** The admin address and token the server's first start printed. */
function adminOf(banner: string[]): { admin: string; token: string } {
  const admin = banner.map((line) => /Admin API and \/metrics on (http:\/\/\S+)/.exec(line)?.[1]).find(Boolean);
  const token = banner.map((line) => /Admin token \(.*\): (\S+)$/.exec(line)?.[1]).find(Boolean);
  if (!admin || !token) throw new Error('the banner gave no admin address or admin token');
  return { admin, token };
}

/** Opens the live stream; resolves once the server answered 200. node:http, not fetch: the client's own CPU is part of the machine the server shares. */
export function openViewer(banner: string[]): Promise<Viewer> {
  const { admin, token } = adminOf(banner);
  return new Promise((resolve, reject) => {
    const req = request(`${admin}/api/live`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`the live stream answered ${res.statusCode}`));
        return;
      }
      let bytes = 0;
      res.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      res.on('error', () => { /* the server stopped or we closed */ });
      resolve({ bytes: () => bytes, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `inlet-*-viewer` servers' prepare step: a viewer for the server's whole life. */
export async function attachViewer(_ctx: ServerContext, _url: string, _writeKey: string, banner: string[]): Promise<void> {
  await openViewer(banner);
}
