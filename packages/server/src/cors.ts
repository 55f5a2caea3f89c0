import type { FastifyInstance } from 'fastify';

/** Write keys are public in browsers, so any origin may post; the preflight is cached for a day. */
export function registerCors(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers.origin !== undefined) reply.header('access-control-allow-origin', '*');
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
