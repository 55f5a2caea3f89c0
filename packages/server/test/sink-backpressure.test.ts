// Admission by the sink's measured rate: the bound follows what the sink makes durable while it is
// the bottleneck, and a server whose sink is behind refuses the excess at once with 503 +
// Retry-After (before reading the body), then admits again once the sink has caught up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newMessageId } from '@inlet/schema';
import { startInlet, type TestInlet } from '@inlet/testkit';
import { SinkBackpressure, STANDING_BOUND_MS, STANDING_QUEUE_MS, WINDOW_MS as WINDOW } from '../src/sinks/sink-backpressure.ts';
import type { StoredEvent, Written } from '../src/sinks/sink.ts';
import type { FailedRecord } from '../src/failed/failed-event.ts';
import { GatedSink } from './gated-sink.ts';
import { adminRequest, basic, postJson, request } from './http-client.ts';

describe('SinkBackpressure', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => { t += ms; } };
  };
  /** A write that becomes durable `ms` after it was handed over. */
  const durableAfter = async (b: SinkBackpressure, c: ReturnType<typeof clock>, events: number, ms: number) => {
    let done!: () => void;
    const tracked = b.track(events, new Promise<void>((resolve) => { done = resolve; }));
    c.advance(ms);
    done();
    await tracked;
  };

  /** A server that has seen one quick window (a write of 100 events durable in 10 ms), with SINK_MAX_QUEUE_MS at 1 s. */
  const afterAQuickWindow = async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 1000, minPendingEvents: 200, maxPendingEvents: 100_000, now: c.now });
    c.advance(WINDOW);
    await durableAfter(b, c, 100, 10);
    return { c, b };
  };

  test('the bound is the sink cap until the sink has been the bottleneck, then its measured rate times the allowed queueing', async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 100, minPendingEvents: 200, maxPendingEvents: 100_000, now: c.now });
    assert.equal(b.bound, 100_000);
    assert.equal(b.rate, undefined);
    // 30,000 events made durable over 300 ms, each write waiting longer than 100 ms: 100,000 events/s.
    await durableAfter(b, c, 30_000, 300);
    assert.equal(b.rate, 100_000);
    assert.equal(b.bound, 10_000);
  });

  test('windows in which the sink kept up never lower the estimate; a slower saturated one does', async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 100, minPendingEvents: 200, maxPendingEvents: 100_000, now: c.now });
    await durableAfter(b, c, 30_000, 300);
    // Light load: 100 events in 300 ms, each durable within 5 ms.
    c.advance(295);
    await durableAfter(b, c, 100, 5);
    assert.equal(b.rate, 100_000);
    // The sink slows down: 3,000 events in 300 ms, waiting 300 ms.
    await durableAfter(b, c, 3_000, 300);
    assert.ok(b.rate! < 100_000 && b.rate! > 10_000, `rate ${b.rate} moved towards 10,000 events/s`);
    assert.ok(b.bound < 10_000);
  });

  test('admits a lone write however large, refuses what would pass the bound, and is saturated at it', async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 100, minPendingEvents: 200, maxPendingEvents: 1_000, now: c.now });
    assert.equal(b.admit(5_000), true);
    const release: (() => void)[] = [];
    const hold = (n: number) => b.track(n, new Promise<void>((resolve) => release.push(resolve)));
    const first = hold(900);
    assert.equal(b.admit(100), true);
    assert.equal(b.admit(101), false);
    assert.equal(b.saturated, false);
    const second = hold(100);
    assert.equal(b.saturated, true);
    for (const r of release) r();
    await Promise.all([first, second]);
    assert.equal(b.pending, 0);
    assert.equal(b.saturated, false);
  });

  test('while several sources have events pending, none may hold more than an equal share of the bound; alone, a source may use all of it', async () => {
    const b = new SinkBackpressure({ maxQueueMs: 100, minPendingEvents: 200, maxPendingEvents: 1_000 });
    const release: (() => void)[] = [];
    const hold = (n: number, source: string) => b.track(n, new Promise<void>((resolve) => release.push(resolve)), source);
    const held = [hold(700, 'noisy')];
    assert.equal(b.admit(200, 'noisy'), true, 'alone, the noisy source may fill the bound');
    held.push(hold(100, 'quiet'));
    assert.equal(b.admit(100, 'noisy'), false, 'with another source pending, the noisy one is past its half');
    assert.equal(b.admit(100, 'quiet'), true, 'the quiet one is within its half');
    assert.equal(b.admit(50, 'third'), true, "a source's first write is admitted within the bound");
    assert.equal(b.admit(201, 'third'), false, 'but never past the bound');
    for (const r of release) r();
    await Promise.all(held);
    assert.equal(b.pending, 0);
    assert.equal(b.admit(900, 'noisy'), true, 'once the others are done it has the bound again');
  });

  test('a failed write stops counting as pending and is not taken as durable', async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 100, minPendingEvents: 200, maxPendingEvents: 100_000, now: c.now });
    const failing = b.track(500, Promise.reject(new Error('disk full')));
    assert.equal(b.pending, 500);
    c.advance(300);
    await assert.rejects(failing, /disk full/);
    assert.equal(b.pending, 0);
    assert.equal(b.rate, undefined);
  });

  test('a standing queue (even the quickest write of a window waits longer than the target) refuses sources holding their share while as much is pending as the sink makes durable in STANDING_BOUND_MS; it ends with a quick window that refused nothing', async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 1000, minPendingEvents: 200, maxPendingEvents: 100_000, now: c.now });
    /** One window whose quickest write of `events` waited `ms`: a window closes at the first write settling WINDOW ms after it opened. */
    const windowOf = async (ms: number, events = 100) => {
      if (ms < WINDOW) c.advance(WINDOW);
      await durableAfter(b, c, events, ms);
    };
    const held = new Map<string, () => void>();
    const hold = (name: string, n: number, source: string) => void b.track(n, new Promise<void>((resolve) => held.set(name, resolve)), source);
    hold('flood-a', 3_000, 'flood');
    hold('flood-b', 2_000, 'flood');
    hold('light', 100, 'light');
    // Quick windows: the sink's floor is 10 ms, so the target is STANDING_QUEUE_MS, and nothing is refused however much waits.
    await windowOf(10);
    await windowOf(10);
    assert.equal(b.standingTarget, STANDING_QUEUE_MS);
    assert.equal(b.sheds('flood'), false);
    // A window in which even the quickest write waited 300 ms: 30,000 events made durable in it, 100,000 a second.
    await windowOf(300, 30_000);
    assert.equal(b.standing, true);
    assert.equal(b.rate, 100_000);
    assert.equal(b.standingBound, 100_000 * STANDING_BOUND_MS / 1000);
    // 5,100 pending, more than the 5,000 the sink makes durable in 50 ms.
    assert.equal(b.sheds('flood'), true, 'the source holding most of what is pending');
    assert.equal(b.sheds('light'), false, 'a source holding less than an equal share');
    assert.equal(b.sheds('new'), false, 'a source holding nothing');
    held.get('flood-b')!();
    await Promise.resolve();
    assert.equal(b.pending, 3_100);
    assert.equal(b.sheds('flood'), false, 'below the standing bound, the flooding source is admitted again');
    // The standing bound refused in this window, so the overload is not over even though the window was quick ...
    await windowOf(10);
    assert.equal(b.standing, true);
    // ... until a quick window in which it refused nothing.
    await windowOf(10);
    assert.equal(b.standing, false);
    assert.equal(b.sheds('flood'), false);
    for (const go of held.values()) go();
  });

  test("a sink slow even without a queue is not taken for a standing one: the target, and the standing bound's time, are twice its floor", async () => {
    const c = clock();
    const b = new SinkBackpressure({ maxQueueMs: 1000, minPendingEvents: 200, maxPendingEvents: 100_000, now: c.now });
    for (let i = 0; i < 5; i++) await durableAfter(b, c, 100, 260);
    assert.equal(b.standingTarget, 520);
    assert.equal(b.standing, false);
    await durableAfter(b, c, 600, 600);
    assert.equal(b.standing, true);
    // 1,000 events a second, and twice the floor of them (the floor does not rise with a window whose quickest write was a queue).
    assert.equal(b.rate, 1_000);
    assert.equal(b.standingBound, 520);
  });

  test('a window in which the standing bound refused and the sink never ran dry teaches the rate; one in which nothing was pending for a while does not', async () => {
    const { c, b } = await afterAQuickWindow();
    // Standing at 100,000 events a second: the bound is 5,000 events.
    let holdDone!: () => void;
    void b.track(6_000, new Promise<void>((resolve) => { holdDone = resolve; }), 'flood');
    await durableAfter(b, c, 30_000, 300);
    assert.equal(b.rate, 100_000);
    assert.equal(b.sheds('flood'), true);
    // A quick window that refused, with 6,000 events pending throughout: 10,000 made durable in 260 ms is what the sink does now.
    c.advance(WINDOW);
    await durableAfter(b, c, 10_000, 10);
    assert.ok(b.rate! < 100_000, `rate ${b.rate} learnt from a busy window`);
    const learnt = b.rate;
    // A refusal, then the held write settles and nothing is pending for a while: the sink ran dry, so
    // this window's 200 events (in 265 ms, quick) are what came, not what the sink can do.
    assert.equal(b.sheds('flood'), true);
    holdDone();
    await Promise.resolve();
    assert.equal(b.pending, 0);
    c.advance(WINDOW / 2);
    await durableAfter(b, c, 100, 10);
    c.advance(WINDOW / 2 - 5);
    await durableAfter(b, c, 100, 10);
    assert.equal(b.rate, learnt);
    assert.equal(b.standing, true, 'it refused in that window: the overload is not over yet');
  });

  test('a window in which every write failed leaves a standing queue standing', async () => {
    const { c, b } = await afterAQuickWindow();
    void b.track(1_000, new Promise<void>(() => {}), 'flood');
    await durableAfter(b, c, 3_000, 300);
    assert.equal(b.standing, true);
    c.advance(WINDOW);
    const failing = b.track(500, Promise.reject(new Error('broker down')), 'flood');
    await assert.rejects(failing, /broker down/);
    assert.equal(b.standing, true);
    assert.equal(b.rate, 10_000);
  });

  test('after an idle spell the window starts again: the pause is not taken for a slow sink', async () => {
    const { c, b } = await afterAQuickWindow();
    let done!: () => void;
    const held = b.track(6_000, new Promise<void>((resolve) => { done = resolve; }), 'flood');
    await durableAfter(b, c, 30_000, 300);
    assert.equal(b.sheds('flood'), true, 'standing, and refusing in the window that follows');
    done();
    await held;
    // Ten seconds without a write, then one quick write: its window began when the writes came back.
    c.advance(10_000);
    await durableAfter(b, c, 100, 5);
    assert.equal(b.rate, 100_000, 'the refusal before the pause did not make ten idle seconds a busy window');
    assert.equal(b.standing, false);
  });

  test('an idle spell ends a standing queue: the first requests after a pause are not refused for an overload that ended', async () => {
    const { c, b } = await afterAQuickWindow();
    await durableAfter(b, c, 100, 300);
    assert.equal(b.standing, true);
    c.advance(WINDOW);
    void b.track(100, new Promise<void>(() => {}), 'back');
    assert.equal(b.standing, false);
    assert.equal(b.sheds('back'), false);
  });
});

const batchOf = (n: number) => ({ batch: Array.from({ length: n }, (_, i) => ({ type: 'track', event: 'Clicked', userId: `u-${i}`, messageId: newMessageId() })) });

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

describe('admission by the sink rate over HTTP', () => {
  let inlet: TestInlet;
  let sink: GatedSink;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'inlet-backpressure-'));
    sink = new GatedSink(dataDir);
    // 100 events per request at most: the bound's floor is then 200 events.
    inlet = await startInlet({ dataDir, sinkMaxQueueMs: 10, limits: { maxEventBytes: 32 * 1024, maxBatchEvents: 100, maxBodyBytes: 500 * 1024 } }, { sink });
  });
  after(async () => {
    sink.release();
    await inlet.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a server whose sink is behind refuses the excess with 503 and Retry-After before reading the body, and admits again once it caught up', async () => {
    // The sink is slow once: the server measures its rate (a few events per second), so the bound drops to its floor.
    sink.open = false;
    const slow = postJson(inlet.url, '/v1/batch', batchOf(10), inlet.writeKey);
    await until(() => sink.waiting === 1, 'the first write reached the sink');
    await new Promise((r) => setTimeout(r, 300));
    sink.release();
    assert.equal((await slow).status, 200);

    sink.open = false;
    const held = [postJson(inlet.url, '/v1/batch', batchOf(100), inlet.writeKey), postJson(inlet.url, '/v1/batch', batchOf(100), inlet.writeKey)];
    await until(() => sink.waiting === 2, 'two writes of 100 events wait for the sink');

    const refused = await postJson(inlet.url, '/v1/batch', batchOf(100), inlet.writeKey);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.json?.code, 'INLET_OVERLOADED');
    // Not JSON at all: still 503, not 400, so the body was never parsed.
    const unread = await request(inlet.url, '/v1/batch', { body: '{"batch": [', headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey) } });
    assert.equal(unread.status, 503, unread.text);

    sink.release();
    for (const reply of await Promise.all(held)) assert.equal(reply.status, 200, reply.text);
    const after = await postJson(inlet.url, '/v1/batch', batchOf(100), inlet.writeKey);
    assert.equal(after.status, 200, after.text);
    assert.equal((await inlet.events()).length, 10 + 100 + 100 + 100);
  });

  test('a source flooding a sink that is behind gets the 503s; another source is still admitted', async () => {
    const other = await inlet.server.sources.create({ name: 'other source' });
    // The bound is at its floor, 200 events: the flooding source holds 100, the other 30.
    sink.open = false;
    const held = [postJson(inlet.url, '/v1/batch', batchOf(100), inlet.writeKey), postJson(inlet.url, '/v1/batch', batchOf(30), other.writeKey)];
    await until(() => sink.waiting === 2, 'both sources wait for the sink');
    const flooding = await postJson(inlet.url, '/v1/batch', batchOf(50), inlet.writeKey);
    assert.equal(flooding.status, 503, 'past its half of the bound');
    assert.equal(flooding.json?.code, 'INLET_OVERLOADED');
    const quiet = postJson(inlet.url, '/v1/batch', batchOf(20), other.writeKey);
    await until(() => sink.waiting === 3, 'the other source was admitted');
    sink.release();
    for (const reply of [...(await Promise.all(held)), await quiet]) assert.equal(reply.status, 200, reply.text);
  });
});

/** The embedded sink behind a disk that takes `serviceMs` for each write, one at a time: concurrent writers queue. */
class SerialSink extends GatedSink {
  private readonly serviceMs: number;
  private last: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, serviceMs: number) {
    super(dataDir);
    this.serviceMs = serviceMs;
  }

  override write(events: readonly StoredEvent[], failed?: readonly FailedRecord[]): Promise<Written> {
    const turn = this.last.then(() => new Promise((r) => setTimeout(r, this.serviceMs))).then(() => this.inner.write(events, failed));
    this.last = turn.catch(() => undefined);
    return turn;
  }
}

describe('shedding for a standing queue over HTTP', () => {
  let inlet: TestInlet;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'inlet-shedding-'));
    // 40 ms a write, one at a time: eight clients keep ~300 ms queued. The rate bound is kept out of the way (10 s of queueing allowed).
    // Ten clients in this process may keep the main thread behind on a busy machine: a body refused
    // for its wait (body-queue-admission.test.ts) is not what this test is about.
    inlet = await startInlet({ dataDir, sinkMaxQueueMs: 10_000 }, { sink: new SerialSink(dataDir, 40), maxParseWaitMs: Number.POSITIVE_INFINITY });
  });
  after(async () => {
    await inlet.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a source keeping the sink queue standing gets 503s before its bodies are read, its connection kept, and is still admitted in part; a source with less waiting is not refused; every 200 is stored', async () => {
    const other = await inlet.server.sources.create({ name: 'quiet source' });
    const until = Date.now() + 2_500;
    const flood: number[] = [];
    const quiet: number[] = [];
    const codes = new Set<unknown>();
    /** /metrics as scraped right after the first refusal */
    let whileShedding: Promise<string> | undefined;
    const flooder = async () => {
      while (Date.now() < until) {
        // Asking to keep the connection (each request is on its own), so the answer says whether the server would.
        const reply = await request(inlet.url, '/v1/batch', { body: JSON.stringify(batchOf(10)), headers: { 'content-type': 'application/json', authorization: basic(inlet.writeKey), connection: 'keep-alive' } });
        flood.push(reply.status);
        if (reply.status !== 200) {
          whileShedding ??= adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics').then((r) => r.text);
          codes.add(reply.json?.code);
          assert.equal(reply.headers['retry-after'], '1');
          assert.notEqual(reply.headers.connection, 'close', 'a body within the limit is drained, the connection kept');
        }
      }
    };
    const quietOne = async () => {
      while (Date.now() < until) quiet.push((await postJson(inlet.url, '/v1/batch', batchOf(10), other.writeKey)).status);
    };
    await Promise.all([...Array.from({ length: 8 }, flooder), quietOne(), quietOne()]);
    const refused = flood.filter((s) => s === 503).length;
    assert.ok(refused > 0, `the flooding source was shed (${flood.length} requests)`);
    assert.ok(flood.filter((s) => s === 200).length > 0, 'and still admitted in part');
    assert.deepEqual([...codes], ['INLET_OVERLOADED']);
    assert.ok(quiet.length > 0 && quiet.every((s) => s === 200), `the quiet source got ${quiet.join(', ')}`);
    // Refused for the standing queue, not for the bound or the main thread.
    const metrics = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics')).text;
    const shed = Number(/inlet_overload_refusals_total\{bound="shed"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.equal(shed, refused, metrics.split('\n').filter((l) => l.startsWith('inlet_overload')).join('; '));
    const stored = (flood.filter((s) => s === 200).length + quiet.length) * 10;
    assert.equal((await inlet.events()).length, stored);

    // The gauges said why: a standing queue, at the sink's measured rate (40 ms per write of 10
    // events: at most 250 a second), whose standing bound is that rate's 50 ms or more (twice the
    // sink's floor, as here: each write waits for the one before it).
    const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    const shedding = await whileShedding!;
    assert.equal(gauge(shedding, 'inlet_sink_queue_standing'), 1);
    const rate = gauge(shedding, 'inlet_sink_rate_events_per_second');
    assert.ok(rate > 25 && rate <= 400, `rate ${rate}`);
    const standingBound = gauge(shedding, 'inlet_sink_standing_bound_events');
    assert.ok(standingBound >= Math.max(1, Math.round(rate * STANDING_BOUND_MS / 1000)), `standing bound ${standingBound}`);
    assert.ok(gauge(shedding, 'inlet_sink_admission_bound_events') >= 200, 'the bound: 10 s of the rate, at least its floor');
    assert.ok(gauge(shedding, 'inlet_body_queue_wait_seconds') >= 0);
    // After a pause, one request ends the overload: nothing pending, no standing queue.
    await new Promise((r) => setTimeout(r, 2 * WINDOW));
    assert.equal((await postJson(inlet.url, '/v1/batch', batchOf(10), other.writeKey)).status, 200);
    const afterwards = (await adminRequest(inlet.adminUrl, inlet.adminToken, '/metrics')).text;
    assert.equal(gauge(afterwards, 'inlet_sink_queue_standing'), 0);
    assert.equal(gauge(afterwards, 'inlet_sink_pending_events'), 0);
  });
});
