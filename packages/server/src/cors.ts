import type { FastifyInstance } from 'fastify';

/** Write keys are public in browsers, so any origin may post; the preflight is cached for a day. */
export function registerCors(app: FastifyInstance): void {
  // Callback style, not async: it runs on every request, and an async hook costs a promise each time.
  app.addHook('onRequest', (request, reply, done) => {
    // Browsers hide Retry-After from cross-origin pages unless it is exposed; SDKs need it to back off.
    if (request.headers.origin !== undefined) reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', 'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset');
    done();
  });
  app.options('*', async (_request, reply) => {
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'GET, POST, OPTIONS')
      .header('access-control-allow-headers', 'Content-Type, Authorization, Content-Encoding')
      .header('access-control-max-age', '86400')
      .code(204)
      .send();
  });
}
