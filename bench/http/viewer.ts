// One console viewer: the console's own live stream (GET /api/live on the admin listener,
// server-sent events), read as fast as it comes and thrown away, as a browser tab would read it
// (issue 15: ingestion with a viewer at W1 peak within 5% of none). Used by the `inlet-*-viewer`
// servers of the HTTP matrix and by the paired viewer suite (viewer-cost.ts).
import { request } from 'node:http';
import { adminOf } from './admin.ts';
import type { ServerContext } from './servers.ts';

export interface Viewer {
  /** bytes of the stream read so far */
  bytes(): number;
  close(): void;
}

/** Opens the live stream; resolves once the server answered 200. node:http, not fetch: the client's own CPU is part of the machine the server shares. */
export function openViewer(banner: string[]): Promise<Viewer> {
  const found = adminOf(banner);
  if (!found) return Promise.reject(new Error('the banner gave no admin address or admin token'));
  const { admin, token } = found;
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
