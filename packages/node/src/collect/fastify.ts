// inletCollect for Fastify: a plugin that owns `${path}` and `${path}/*`. It stays encapsulated
// (no skip-override) because it replaces the body parsers for its own routes only: bodies are
// not parsed but streamed, counted, to Inlet.
// Nothing comes from fastify, not even types (see ../frameworks.ts): it is an optional peer.
import type { IncomingMessage } from 'node:http';
import type { FastifyPlugin, FastifyReply, FastifyRequest } from '../frameworks.ts';
import { Collector, type Answer } from './collector.ts';
import { collectSettings, type InletCollectOptions } from './options.ts';
import { attempt, writeAnswer } from './respond.ts';

export type InletCollectFastifyOptions = InletCollectOptions<FastifyRequest>;

/** The part of a Fastify instance the plugin uses. */
export interface InletCollectFastifyApp {
  removeAllContentTypeParsers(): unknown;
  addContentTypeParser(contentType: '*', parser: (request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => void): unknown;
  all(path: string, handler: (request: FastifyRequest, reply: FastifyReply) => Promise<void>): unknown;
  addHook(name: 'onClose', hook: (instance: unknown, done: () => void) => void): unknown;
}

export const collectFastify: FastifyPlugin<InletCollectFastifyOptions, InletCollectFastifyApp> = (app, options, done) => {
  let collector: Collector;
  try {
    collector = new Collector(collectSettings(options as InletCollectOptions<unknown>));
  } catch (error) {
    done(error as Error);
    return;
  }
  const { consent, clientIp } = options;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, next) => next(null));

  async function handler(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    let answer: Answer;
    try {
      answer = await collector.handle({
        method: request.method,
        target: request.raw.url ?? '/',
        header: (name) => {
          const value = request.headers[name];
          return Array.isArray(value) ? value.join(', ') : value;
        },
        body: request.raw,
        // request.ip and request.protocol follow Fastify's trustProxy setting.
        clientIp: clientIp ? attempt(clientIp, request) : request.ip,
        secure: request.protocol === 'https',
        consent: () => (consent ? consent(request) : true),
      });
    } catch (error) {
      // The reply is ours now (hijacked): Fastify's error handler cannot answer for us.
      request.log.error({ err: { message: (error as Error).message } }, 'inletCollect failed');
      answer = { status: 500, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"error":"Internal error","code":"INLET_INTERNAL"}', close: false };
    }
    writeAnswer(reply.raw, answer);
  }
  app.all(collector.prefix, handler);
  app.all(`${collector.prefix}/*`, handler);
  app.addHook('onClose', (_instance, next) => {
    collector.close();
    next();
  });
  done();
};

Object.assign(collectFastify, { [Symbol.for('fastify.display-name')]: '@inlet/node collect' });
