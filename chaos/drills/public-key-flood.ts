// One client spends a browser source's public write key as fast as it can, with batches of 1,000
// invalid items (each one a failed event to keep): the site's other visitors, on other addresses,
// must go on being stored. Before each client address was held to a share of a browser key's
// budgets, about 17 such requests a second used up the default budget for every visitor.
import http from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Drill } from '../lib/drill.ts';
import { addStatuses, seconds, sleep } from '../lib/measure.ts';
import { createSource, embeddedIds, ServerUnderTest } from '../lib/servers.ts';

const BUDGET = { requests: 6000, events: 200_000 };
const ADDRESS_PERCENT = 10;
const VISITORS = 20;
const FLOOD_ITEMS = 1000;

type Statuses = Map<number | string, number>;
const count = (statuses: Statuses, key: number | string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);

/** One POST from `address` (as a trusted proxy forwards it); resolves with the status, or the error code. */
function post(url: string, agent: http.Agent, writeKey: string, address: string, body: string): Promise<{ status: number | string; text: string }> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/v1/batch`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'x-forwarded-for': address },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { if (text.length < 1000) text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setTimeout(15_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (e: { code?: string }) => resolve({ status: e.code ?? 'error', text: '' }));
    req.end(body);
  });
}

export const publicKeyFlood: Drill = {
  name: 'public-key-flood',
  title: 'one client spends a browser key flat out: do the other visitors get through?',
  description: `Embedded store; the source's budgets lowered to ${BUDGET.requests} requests and ${BUDGET.events.toLocaleString('en')} events a minute, `
    + `each client address held to the default ${ADDRESS_PERCENT}% of them, addresses forwarded by a trusted proxy (the drill). One address posts `
    + `batches of ${FLOOD_ITEMS} invalid items (2 KB each; every fourth a batch of one, to spend what is left), 8 at a time, for 10 s (quick: 5 s); meanwhile ${VISITORS} other addresses send one `
    + 'valid event every 500 ms each (a 503 sent again after 1 s, up to 5 times, as the SDKs do). No visitor should get 429 and every '
    + 'visitor event should be stored; the flooding address should get 429 once it has '
    + 'used its share, and have kept no more failed events than its share of events.',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('public-key-flood');
    const env = {
      INLET_DATA_DIR: dataDir,
      RATE_LIMIT_REQUESTS_PER_MINUTE: String(BUDGET.requests),
      RATE_LIMIT_EVENTS_PER_MINUTE: String(BUDGET.events),
      RATE_LIMIT_ADDRESS_PERCENT: String(ADDRESS_PERCENT),
      TRUSTED_PROXIES: '127.0.0.1',
    };
    const writeKey = await createSource(env, 'site');
    const server = await ServerUnderTest.start(ctx, env);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    ctx.defer(() => agent.destroy());

    const flood: Statuses = new Map();
    const visitors: Statuses = new Map();
    let floodSaysAddress = false;
    // Every fourth request a batch of one: what is left of a budget too small for a large batch is spent too.
    const floodBodies = [FLOOD_ITEMS, FLOOD_ITEMS, FLOOD_ITEMS, 1].map((n) => JSON.stringify({ batch: Array(n).fill(0) }));
    let floods = 0;
    const durationMs = ctx.quick ? 5000 : 10_000;
    const started = performance.now();
    const running = () => performance.now() - started < durationMs;
    const flooder = async () => {
      while (running()) {
        const reply = await post(server.url, agent, writeKey, '198.51.100.7', floodBodies[floods++ % 4]);
        count(flood, reply.status);
        if (reply.status === 429 && reply.text.includes('client address has used its share')) floodSaysAddress = true;
      }
    };
    let sent = 0;
    const acked = new Set<string>();
    const visitor = async (n: number) => {
      while (running()) {
        const messageId = `pkf-${n}-${sent++}`;
        const body = JSON.stringify({ batch: [{ type: 'track', event: 'Page Viewed', anonymousId: `visitor-${n}`, messageId }] });
        // As the SDKs do: a 503 (the flood's burst of failed events can fill the sink's queue for a
        // moment) is sent again after a second, a few times.
        for (let attempt = 0; attempt < 5; attempt++) {
          const { status } = await post(server.url, agent, writeKey, `203.0.113.${n + 1}`, body);
          count(visitors, status);
          if (status === 200) acked.add(messageId);
          if (status !== 503) break;
          await sleep(1000);
        }
        await sleep(500);
      }
    };
    await Promise.all([...Array.from({ length: 8 }, flooder), ...Array.from({ length: VISITORS }, (_, n) => visitor(n))]);

    addStatuses(ctx.measured, visitors);
    const floodText = JSON.stringify(Object.fromEntries(flood));
    const visitorText = JSON.stringify(Object.fromEntries(visitors));
    ctx.measured.notes.push(`flooding address: ${floodText} in ${seconds(durationMs)}; visitors: ${visitorText}`);
    const db = new Database(join(dataDir, 'inlet.db'), { readonly: true });
    const failed = (db.prepare('SELECT count(*) AS n FROM failed_events').get() as { n: number }).n;
    db.close();
    const share = (BUDGET.events * ADDRESS_PERCENT) / 100;
    const visited = [...visitors.values()].reduce((a, b) => a + b, 0);
    const stored = new Set(embeddedIds(dataDir));
    const visitorsStored = [...acked].filter((id) => stored.has(id)).length;
    ctx.check({ name: 'no visitor is refused for the key\'s rate limit while one address floods it', ok: visited > 0 && !visitors.has(429), detail: `visitors: ${visitorText}` });
    ctx.check({ name: 'every visitor event is stored (a 503 sent again, as the SDKs do)', ok: sent > 0 && acked.size === sent && visitorsStored === sent, detail: `${sent} sent, ${acked.size} acknowledged, ${visitorsStored} stored` });
    ctx.check({ name: 'the flooding address gets 429 for its share once it has used it', ok: (flood.get(429) ?? 0) > 0 && floodSaysAddress, detail: `flood: ${floodText}` });
    ctx.check({ name: "the flood keeps no more failed events than its address's share of events", ok: failed > 0 && failed <= share, detail: `${failed} failed events kept; the share is ${share} a minute` });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
  },
};
