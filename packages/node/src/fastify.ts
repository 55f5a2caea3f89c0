// The Fastify flavour of the request middleware, as a plugin. It hooks onResponse for the whole
// app (not just its own encapsulation context), which is what fastify-plugin's skip-override does.
// Nothing comes from fastify, not even types (see frameworks.ts): it is an optional peer.
import type { ServerAnalytics } from './analytics.ts';
import type { FastifyPlugin, FastifyReply, FastifyRequest } from './frameworks.ts';
import { recordRequest, safeUserId } from './request-event.ts';

export interface InletFastifyOptions {
  analytics: ServerAnalytics;
  /** who made the request; called once the response is sent, so auth hooks have run */
  userId(request: FastifyRequest): string | number | undefined | null;
}

/** The part of a Fastify instance the plugin uses. */
export interface InletFastifyApp {
  addHook(name: 'onResponse', hook: (request: FastifyRequest, reply: FastifyReply, done: () => void) => void): unknown;
}

const plugin: FastifyPlugin<InletFastifyOptions, InletFastifyApp> = (app, options, done) => {
  const { analytics, userId } = options;
  if (analytics === undefined || typeof userId !== 'function') {
    done(new TypeError('inletFastify: options must be { analytics, userId: (request) => userId }'));
    return;
  }
  app.addHook('onResponse', (request, reply, next) => {
    recordRequest(analytics, {
      userId: safeUserId(userId, request),
      method: request.method,
      // routeOptions.url is the pattern (`/users/:id`); undefined when no route matched (404).
      path: request.routeOptions.url ?? request.url,
      statusCode: reply.statusCode,
      durationMs: reply.elapsedTime,
    });
    next();
  });
  done();
};

Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@inlet/node' });

export const inletFastify = plugin;
