import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { pino } from 'pino';
import { startInlet } from '@inlet/testkit';
import { MemoryRateLimiter } from '../src/limits/memory-limiter.ts';
import { SourceBudgets } from '../src/limits/source-budget.ts';
import { createMetrics } from '../src/metrics.ts';
import type { Source } from '../src/sources/source-store.ts';

const minute = 60_000;
const browser: Source = { id: 'src_web', name: 'web', kind: 'browser', ipPolicy: 'full', createdAt: '', revokedAt: null };
const server: Source = { ...browser, id: 'src_backend', name: 'backend', kind: 'server' };

/** A request as SourceBudgets reads it: the client address (ipOf gives the peer here) and its headers. */
const from = (address: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: address }, headers }) as unknown as FastifyRequest;

function budgets(options: { requests: number; events: number; addressPercent?: number; ipOf?: (r: FastifyRequest) => string | undefined }) {
  let t = 1000;
  const clock = { now: () => t, advance: (ms: number) => { t += ms; } };
  const warnings: string[] = [];
  const limiter = new MemoryRateLimiter({ requests: { limit: options.requests, windowMs: minute }, events: { limit: options.events, windowMs: minute }, addressPercent: options.addressPercent, now: clock.now });
  const metrics = createMetrics();
  const spending = new SourceBudgets({ limiter, metrics, ipOf: options.ipOf ?? ((r) => r.socket.remoteAddress), log: { warn: (_o: unknown, m?: string) => { warnings.push(String(m)); } } as never, now: clock.now });
  return { spending, clock, warnings, metrics };
}

describe('SourceBudgets: a spent budget is refused before the body', () => {
  test('a key whose request budget is spent is refused for every address until its window resets, with the headers\' numbers', async () => {
    const { spending, clock } = budgets({ requests: 2, events: 1000 });
    for (let i = 0; i < 2; i++) assert.equal((await spending.spend(server, from('192.0.2.1'), 1)).refusal, undefined);
    assert.equal(spending.spentBefore(server, from('192.0.2.1')), undefined, 'nothing is known spent until a request is refused');
    const refused = await spending.spend(server, from('192.0.2.1'), 1);
    assert.equal(refused.refusal?.statusCode, 429);
    const before = spending.spentBefore(server, from('192.0.2.99'));
    assert.equal(before?.error.statusCode, 429);
    assert.equal(before?.limit, 2);
    assert.ok(before!.resetMs > 0 && before!.resetMs <= minute);
    assert.equal(spending.spentBefore(browser, from('192.0.2.1')), undefined, 'another source is not');
    clock.advance(minute);
    assert.equal(spending.spentBefore(server, from('192.0.2.1')), undefined, 'forgotten when the window resets');
    assert.equal((await spending.spend(server, from('192.0.2.1'), 1)).refusal, undefined);
  });

  test('a browser address that spent its share is refused before the body; other addresses are not', async () => {
    const { spending } = budgets({ requests: 10, events: 1000, addressPercent: 20 });
    await spending.spend(browser, from('192.0.2.1'), 1);
    await spending.spend(browser, from('192.0.2.1'), 1);
    assert.match(String((await spending.spend(browser, from('192.0.2.1'), 1)).refusal?.message), /client address has used its share/);
    assert.match(String(spending.spentBefore(browser, from('192.0.2.1'))?.error.message), /client address has used its share/);
    assert.equal(spending.spentBefore(browser, from('192.0.2.2')), undefined);
  });

  test('a batch refused while the budget still has room is not remembered: a smaller one still goes through', async () => {
    const { spending } = budgets({ requests: 100, events: 100 });
    assert.equal((await spending.spend(server, from('192.0.2.1'), 90)).refusal, undefined);
    assert.equal((await spending.spend(server, from('192.0.2.1'), 20)).refusal?.statusCode, 429);
    assert.equal(spending.spentBefore(server, from('192.0.2.1')), undefined);
    assert.equal((await spending.spend(server, from('192.0.2.1'), 10)).refusal, undefined);
    assert.equal((await spending.spend(server, from('192.0.2.1'), 1)).refusal?.statusCode, 429);
    assert.ok(spending.spentBefore(server, from('192.0.2.1')), 'with nothing left, it is');
  });

  test('an address share that refuses requests a private address forwarded with an X-Forwarded-For this server did not believe is warned about, at most once a minute', async () => {
    const { spending, clock, warnings } = budgets({ requests: 10, events: 1000, addressPercent: 10 });
    const proxied = () => from('10.0.0.5', { 'x-forwarded-for': '203.0.113.7' });
    await spending.spend(browser, proxied(), 1);
    await spending.spend(browser, proxied(), 1);
    await spending.spend(browser, proxied(), 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /TRUSTED_PROXIES/);
    assert.doesNotMatch(warnings[0], /203\.0\.113\.7|10\.0\.0\.5/, 'no address in the log');
    clock.advance(minute);
    await spending.spend(browser, proxied(), 1);
    assert.equal(warnings.length, 1, 'the window reset, the share is not refused yet');
    await spending.spend(browser, proxied(), 1);
    assert.equal(warnings.length, 2);
    // Nothing to warn about: refused without a forwarded address; a public peer writing the header
    // (a client, not a proxy of the operator's); a forwarded address that was believed.
    const quiet = async (request: () => FastifyRequest, ipOf?: (r: FastifyRequest) => string | undefined) => {
      const { spending: other, warnings: none } = budgets({ requests: 10, events: 1000, addressPercent: 10, ipOf });
      for (let i = 0; i < 3; i++) await other.spend(browser, request(), 1);
      assert.equal((await other.spend(browser, request(), 1)).refusal?.statusCode, 429);
      assert.equal(none.length, 0);
    };
    await quiet(() => from('203.0.113.8'));
    await quiet(() => from('198.51.100.1', { 'x-forwarded-for': '203.0.113.7' }));
    await quiet(() => from('10.0.0.5', { 'x-forwarded-for': '203.0.113.7' }), (r) => String(r.headers['x-forwarded-for']));
  });

  test('both series of the 429 counter exist before any refusal', async () => {
    const { metrics } = budgets({ requests: 10, events: 1000 });
    const text = await metrics.registry.metrics();
    assert.match(text, /^inlet_rate_limited_requests_total\{budget="source"\} 0$/m);
    assert.match(text, /^inlet_rate_limited_requests_total\{budget="address"\} 0$/m);
  });
});

describe('a browser address\'s events share and MAX_BATCH_EVENTS', () => {
  /** The rate-limit warnings a server logs as it starts with these budgets. */
  async function startWarnings(eventsPerMinute: number, addressPercent: number): Promise<string[]> {
    const lines: string[] = [];
    const logs = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const inlet = await startInlet({ rateLimit: { requestsPerMinute: 60_000, eventsPerMinute, addressPercent }, logLevel: 'warn' }, { logger: pino({ level: 'warn' }, logs) });
    await inlet.close();
    return lines.map((l) => JSON.parse(l) as { msg: string }).map((l) => l.msg).filter((m) => m.startsWith('RATE_LIMIT_ADDRESS_PERCENT'));
  }

  test('a start whose share holds fewer events than a full batch warns that the floor applies, and when it is the whole key, says so', async () => {
    const [below] = await startWarnings(5000, 10);
    assert.match(below, /10% of RATE_LIMIT_EVENTS_PER_MINUTE \(5000\) is less than MAX_BATCH_EVENTS \(1000\); a browser client address may send 1000 events a minute/);
    assert.doesNotMatch(below, /whole key/);
    const [whole] = await startWarnings(800, 10);
    assert.match(whole, /as many as the whole key/);
    assert.deepEqual(await startWarnings(1_000_000, 10), [], 'the defaults: no warning');
  });
});
