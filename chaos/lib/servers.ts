// The server under test: `inlet serve` as a child process that a drill can kill, restart on the
// same port and settings, and measure; and what it stored, read back.
import { readStoredEvents } from '@inlet/server';
import { createSourceWithCli, readAll, spawnServe, startLoad, type Load, type LoadOptions, type ServeChild } from '@inlet/testkit';
import type { DrillContext } from './drill.ts';
import { RssWatch, sleep, unexpectedStatuses, waitFor } from './measure.ts';

/**
 * Settings every drill server gets: rate limits out of the way (the load is one write key; the
 * drills are about faults, not budgets) and quiet logs.
 */
const BASE_SETTINGS = {
  LOG_LEVEL: 'warn',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000000',
  RATE_LIMIT_EVENTS_PER_MINUTE: '1000000000',
};

/**
 * Shorter bounds for the quick drills (npm test), so an attack that the full suite lets run for
 * the documented default (a body must arrive within 30 s, a 10 s shutdown drain) is over in
 * seconds. These are the settings issue 16's hardening adds; today's server ignores unknown
 * variables, so until it lands they change nothing. When the hardening names them differently,
 * rename them here (and only here).
 */
export const QUICK_HARDENING_SETTINGS = {
  /** a request's headers must arrive within */
  HEADERS_TIMEOUT_MS: '2000',
  /** a request's body must arrive within */
  BODY_TIMEOUT_MS: '2000',
  /** the whole request, headers to answer */
  REQUEST_TIMEOUT_MS: '4000',
  /** SIGTERM: in-flight requests get this long, then what is left is closed */
  SHUTDOWN_DRAIN_MS: '2000',
  /** bytes of request bodies being read at once, across connections */
  MAX_BODY_BYTES_IN_FLIGHT: String(16 * 1024 * 1024),
};

/** What the quick drills wait for before calling an attack unanswered, given the settings above (ms). */
export const QUICK_BOUNDS = { body: 6_000, drain: 6_000 };
/** The same for the full suite, against the defaults the issue asks for (30 s body, 10 s drain). */
export const FULL_BOUNDS = { body: 45_000, drain: 25_000 };

export function settingsFor(ctx: DrillContext, env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ...BASE_SETTINGS, ...(ctx.quick ? QUICK_HARDENING_SETTINGS : {}), ...env };
}

export class ServerUnderTest {
  readonly env: Record<string, string | undefined>;
  readonly rss = new RssWatch();
  current!: ServeChild;
  port = 0;
  /** how many times it was started */
  starts = 0;

  private constructor(env: Record<string, string | undefined>) {
    this.env = env;
  }

  /** Starts `inlet serve` with the drill's settings plus `env`; stopped (SIGKILL) after the drill. */
  static async start(ctx: DrillContext, env: Record<string, string | undefined>): Promise<ServerUnderTest> {
    const server = new ServerUnderTest(settingsFor(ctx, env));
    await server.restart();
    ctx.defer(async () => {
      await server.current.kill('SIGKILL');
      const peak = server.rss.stop();
      ctx.measured.peakRssBytes = Math.max(ctx.measured.peakRssBytes ?? 0, peak);
    });
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.current.pid;
  }

  /** (Re)starts the server on the same port and settings; resolves once it answers /v1/ping. */
  async restart(): Promise<void> {
    this.current = await spawnServe({ env: this.env, port: this.port || undefined });
    this.port = this.current.port;
    this.starts++;
    this.rss.watch(this.current.pid);
  }

  running(): boolean {
    return this.current.running();
  }
}

/** A source created through the command line in the store the settings name; its write key. */
export async function createSource(env: Record<string, string | undefined>, name: string): Promise<string> {
  return (await createSourceWithCli(env, name)).writeKey;
}

/** messageIds of every event in the embedded store in `dataDir`. */
export function embeddedIds(dataDir: string): string[] {
  const ids: string[] = [];
  for (let after = 0; ;) {
    const rows = readStoredEvents(dataDir, after, 50_000);
    for (const row of rows) ids.push(row.record.messageId);
    if (rows.length < 50_000) return ids;
    after = rows[rows.length - 1].seq;
  }
}

/**
 * messageIds of every record in a topic: committed records only (the processor's output is
 * transactional; the server's raw-events topic has no transactions, so all of it is committed).
 */
export async function topicIds(brokers: string[], topic: string): Promise<string[]> {
  // A variable, not a literal: readers without an isolation option ignore it (they read committed).
  const committed = { isolation: 'read_committed' as const, timeoutMs: 120_000 };
  const records = await readAll(brokers, topic, committed);
  return records.map((r) => r.headers['message-id'] ?? (JSON.parse(r.value) as { messageId: string }).messageId);
}

/**
 * The load most drills run: four clients, batches of 20 events, at most 250 requests (5,000
 * events) per second in all — enough to have requests in flight at any moment, little enough to
 * leave the machine's second core to the server.
 */
export function drillLoad(url: () => string, writeKey: string, idPrefix: string, options: Partial<LoadOptions> = {}): Load {
  return startLoad({ url, writeKey, clients: 4, batchSize: 20, requestsPerSecond: 250, idPrefix, ...options });
}

/**
 * SIGKILL the server `times` times while `load` runs, after a stretch of load each time (6 s;
 * quick: 1 s), starting it again at once on the same port and settings. Records each recovery
 * (kill to the first 200 for a request sent after it) and returns how many kills it came back from.
 */
export async function killRepeatedly(ctx: DrillContext, server: ServerUnderTest, load: Load, times = 3): Promise<number> {
  let recovered = 0;
  for (let kill = 1; kill <= times; kill++) {
    const before = load.acknowledged.size;
    await waitFor('the load is acknowledged', () => load.acknowledged.size > before, 30_000, 20);
    await sleep(ctx.quick ? 1000 : 6000);
    const killedAt = performance.now();
    await server.current.kill('SIGKILL');
    ctx.log(`kill ${kill}: SIGKILL with ${load.acknowledged.size} events acknowledged so far`);
    await server.restart();
    const back = await waitFor('the restarted server acknowledges a batch', () => load.firstSuccessSentAfter(killedAt) !== undefined, 30_000, 20).then(() => true, () => false);
    if (back) {
      ctx.measured.recoveryMs.push(load.firstSuccessSentAfter(killedAt)! - killedAt);
      recovered++;
    }
  }
  return recovered;
}

/** The check every loaded drill ends with: clients saw 200, 503, 429 or no connection, nothing else (no 500). */
export function checkStatuses(ctx: DrillContext, load: Pick<Load, 'statuses'>): void {
  const odd = unexpectedStatuses(load);
  ctx.check({ name: 'clients get only 200, 503 or no connection, never another status', ok: odd.length === 0, detail: odd.length ? `also got ${odd.join(', ')}` : 'yes' });
}
