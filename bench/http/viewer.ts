// The `inlet-*-viewer` servers: one console viewer watches every event while the load runs (issue
// 15: ingestion with a viewer at W1 peak within 5% of none). The viewer is the console's own live
// stream (GET /api/live on the admin listener, server-sent events), read as fast as it comes.
import type { ServerContext } from './servers.ts';

/** Opens the live stream with the admin token the first start printed; it ends when the server stops. */
export async function attachViewer(_ctx: ServerContext, _url: string, _writeKey: string, banner: string[]): Promise<void> {
  const admin = banner.map((line) => /Admin API and \/metrics on (http:\/\/\S+)/.exec(line)?.[1]).find(Boolean);
  const token = banner.map((line) => /Admin token \(.*\): (\S+)$/.exec(line)?.[1]).find(Boolean);
  if (!admin || !token) throw new Error('the banner gave no admin address or admin token');
  const response = await fetch(`${admin}/api/live`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
  if (!response.ok || !response.body) throw new Error(`the live stream answered ${response.status}`);
  const reader = response.body.getReader();
  // Read until the server goes away; what arrives is not kept.
  void (async () => {
    try {
      for (;;) if ((await reader.read()).done) return;
    } catch { /* the server stopped */ }
  })();
}
