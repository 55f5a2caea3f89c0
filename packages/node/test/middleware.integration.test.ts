// Express and Fastify request tracking, delivered to a real Inlet server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import { ServerAnalytics, inletExpress, inletFastify } from '@inlet/node';
import { recorder } from './support/proxy.ts';

interface RequestProps { method: string; path: string; status_code: number; duration_ms: number }

async function requestEvents(inlet: TestInlet, analytics: ServerAnalytics, userId: string): Promise<NormalizedRecord[]> {
  await analytics.flush();
  return (await inlet.events()).filter((e) => e.event === 'api_request_completed' && e.userId === userId);
}

function assertRequestEvent(e: NormalizedRecord, expected: Omit<RequestProps, 'duration_ms'>) {
  const p = e.properties as unknown as RequestProps;
  assert.deepEqual({ method: p.method, path: p.path, status_code: p.status_code }, expected);
  assert.equal(typeof p.duration_ms, 'number');
  assert.ok(p.duration_ms >= 0);
  assert.ok(!JSON.stringify(e).includes('secret-token'), 'the query string never reaches the event');
}

describe('request tracking middleware', () => {
  let inlet: TestInlet;
  let analytics: ServerAnalytics;
  before(async () => {
    inlet = await startInlet();
    analytics = new ServerAnalytics({ writeKey: inlet.writeKey, endpoint: inlet.url, flushIntervalMs: 50 });
  });
  after(async () => {
    await analytics.shutdown();
    await inlet.close();
  });

  describe('express', () => {
    let server: Server;
    let base: string;
    before(async () => {
      const app = express();
      app.use((req, _res, next) => {
        (req as { user?: string }).user = req.get('x-user') ?? undefined;
        next();
      });
      app.use(inletExpress(analytics, { userId: (req) => (req as { user?: string }).user }));
      const orders = express.Router();
      orders.get('/:orderId', (req, res) => { res.json({ id: req.params.orderId }); });
      app.use('/shop/orders', orders);
      app.use('/shops/:shop/orders', orders);
      app.get('/users/:id', (_req, res) => { res.status(201).send('ok'); });
      app.post('/fail', () => { throw new Error('boom'); });
      app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => { res.status(500).send('error'); });
      await new Promise<void>((r) => { server = app.listen(0, '127.0.0.1', () => r()); });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    test('records method, route pattern, status and duration; never the query string', async () => {
      const user = 'express-user-1';
      const headers = { 'x-user': user };
      assert.equal((await fetch(`${base}/users/42?token=secret-token&x=1`, { headers })).status, 201);
      assert.equal((await fetch(`${base}/shop/orders/o-9?token=secret-token`, { headers })).status, 200);
      assert.equal((await fetch(`${base}/fail?token=secret-token`, { method: 'POST', headers })).status, 500);
      assert.equal((await fetch(`${base}/nowhere/at-all?token=secret-token#frag`, { headers })).status, 404);
      const events = await requestEvents(inlet, analytics, user);
      assert.equal(events.length, 4);
      const byStatus = (s: number) => events.find((e) => (e.properties as unknown as RequestProps).status_code === s)!;
      assertRequestEvent(byStatus(201), { method: 'GET', path: '/users/:id', status_code: 201 });
      assertRequestEvent(byStatus(200), { method: 'GET', path: '/shop/orders/:orderId', status_code: 200 });
      assertRequestEvent(byStatus(500), { method: 'POST', path: '/fail', status_code: 500 });
      assertRequestEvent(byStatus(404), { method: 'GET', path: '/nowhere/at-all', status_code: 404 });
    });

    for (const handler of ['the default error handler', 'an error handler of the app'] as const) {
      test(`a request that ends in an error, answered by ${handler}, keeps its path`, async () => {
        const user = `express-user-errors-${handler.length}`;
        const app = express();
        app.set('env', 'test'); // the default error handler then logs nothing
        app.use(inletExpress(analytics, { userId: () => user }));
        app.get('/boom', () => { throw new Error('boom'); });
        const nested = express.Router();
        nested.get('/boom/:id', () => { throw new Error('boom'); });
        app.use('/nested', nested);
        if (handler === 'an error handler of the app') {
          app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => { res.status(500).send('error'); });
        }
        const s = await new Promise<Server>((r) => { const srv = app.listen(0, '127.0.0.1', () => r(srv)); });
        const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
        try {
          assert.equal((await fetch(`${url}/boom?token=secret-token`)).status, 500);
          assert.equal((await fetch(`${url}/nested/boom/7?token=secret-token`)).status, 500);
        } finally {
          await new Promise((r) => s.close(r));
        }
        // Before: Express has reset req.baseUrl by then (to undefined after its default handler),
        // and the paths were "undefined/boom" and "undefined/boom/:id" (or "/boom/:id").
        const paths = (await requestEvents(inlet, analytics, user)).map((e) => (e.properties as unknown as RequestProps).path).sort();
        assert.deepEqual(paths, ['/boom', '/nested/boom/:id']);
      });
    }

    test('a path option names what Express cannot (patterns of parametrized mounts)', async () => {
      const user = 'express-user-2';
      const app = express();
      app.use(inletExpress(analytics, {
        userId: () => user,
        path: (req) => (req.originalUrl.startsWith('/shops/') ? '/shops/:shop/orders/:orderId' : undefined),
      }));
      const orders = express.Router();
      orders.get('/:orderId', (_req, res) => { res.send('ok'); });
      app.use('/shops/:shop/orders', orders);
      app.get('/plain/:id', (_req, res) => { res.send('ok'); });
      const s = await new Promise<Server>((r) => { const srv = app.listen(0, '127.0.0.1', () => r(srv)); });
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      try {
        await fetch(`${url}/shops/acme/orders/o-2?token=secret-token`);
        await fetch(`${url}/plain/7?token=secret-token`);
      } finally {
        await new Promise((r) => s.close(r));
      }
      const paths = (await requestEvents(inlet, analytics, user)).map((e) => (e.properties as unknown as RequestProps).path).sort();
      assert.deepEqual(paths, ['/plain/:id', '/shops/:shop/orders/:orderId']);
    });

    test('requests without a known user record nothing', async () => {
      const before = (await inlet.events()).length;
      await fetch(`${base}/users/1`);
      await analytics.flush();
      assert.equal((await inlet.events()).length, before);
    });

    test('a userId callback that throws does not break the response', async () => {
      const seen = recorder(analytics);
      const app = express();
      app.use(inletExpress(analytics, { userId: () => { throw new Error('auth bug'); } }));
      app.get('/x', (_req, res) => { res.send('fine'); });
      const s = await new Promise<Server>((r) => { const srv = app.listen(0, '127.0.0.1', () => r(srv)); });
      try {
        const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/x`);
        assert.equal(await res.text(), 'fine');
      } finally {
        await new Promise((r) => s.close(r));
      }
      assert.equal(seen.drops.length, 0);
    });

    test('bad options fail at setup', () => {
      assert.throws(() => inletExpress(analytics, {} as never), /userId must be a function/);
    });
  });

  describe('fastify', () => {
    let app: FastifyInstance;
    let base: string;
    before(async () => {
      app = Fastify();
      app.decorateRequest('user', undefined);
      app.addHook('onRequest', async (request) => {
        (request as { user?: string }).user = request.headers['x-user'] as string | undefined;
      });
      await app.register(inletFastify, { analytics, userId: (request) => (request as { user?: string }).user });
      await app.register(async (scoped) => {
        scoped.get('/orders/:orderId', async (request) => ({ id: (request.params as { orderId: string }).orderId }));
      }, { prefix: '/shops/:shop' });
      app.get('/users/:id', async (_request, reply) => reply.code(202).send('ok'));
      await app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });
    after(() => app.close());

    test('records method, route pattern, status and duration; never the query string', async () => {
      const user = 'fastify-user-1';
      const headers = { 'x-user': user };
      assert.equal((await fetch(`${base}/users/42?token=secret-token`, { headers })).status, 202);
      assert.equal((await fetch(`${base}/shops/acme/orders/o-1?token=secret-token`, { headers })).status, 200);
      assert.equal((await fetch(`${base}/missing/page?token=secret-token`, { headers })).status, 404);
      await fetch(`${base}/users/43`); // anonymous: nothing
      const events = await requestEvents(inlet, analytics, user);
      assert.equal(events.length, 3);
      const byStatus = (s: number) => events.find((e) => (e.properties as unknown as RequestProps).status_code === s)!;
      assertRequestEvent(byStatus(202), { method: 'GET', path: '/users/:id', status_code: 202 });
      assertRequestEvent(byStatus(200), { method: 'GET', path: '/shops/:shop/orders/:orderId', status_code: 200 });
      assertRequestEvent(byStatus(404), { method: 'GET', path: '/missing/page', status_code: 404 });
    });
  });
});
