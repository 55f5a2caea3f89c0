// inletCollect for Express and connect: a middleware that answers requests under the prefix and
// passes every other request on untouched. Register it before body parsers, so bodies stream;
// after one, the parsed body is forwarded instead.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ExpressRequest as Request, NextFunction } from '../frameworks.ts';
import { Collector } from './collector.ts';
import { collectSettings, type InletCollectOptions } from './options.ts';
import { attempt, writeAnswer } from './respond.ts';

/** What a body parser registered earlier left: its result, or an error when it left nothing. */
function bodyOf(req: Request): IncomingMessage | Buffer | string {
  if (req.method !== 'POST' || !req.readableEnded) return req;
  const parsed: unknown = req.body;
  if (Buffer.isBuffer(parsed) || typeof parsed === 'string') return parsed;
  if (parsed !== undefined) return JSON.stringify(parsed);
  throw new Error('inletCollect: the request body was read by a middleware registered before inletCollect and not kept in req.body; register inletCollect before body parsers');
}

export function collectExpress(options: InletCollectOptions<Request>): (req: Request, res: ServerResponse, next: NextFunction) => void {
  const collector = new Collector(collectSettings(options as InletCollectOptions<unknown>));
  const { consent, clientIp } = options;
  return function inletCollectMiddleware(req, res, next) {
    // originalUrl: the whole path even when mounted with app.use('/_i', ...); connect has only url.
    const target = req.originalUrl ?? req.url;
    if (!collector.owns(target)) return next();
    let body: IncomingMessage | Buffer | string;
    try {
      body = bodyOf(req);
    } catch (error) {
      return next(error);
    }
    collector.handle({
      method: req.method,
      target,
      header: (name) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      },
      body,
      // req.ip and req.secure follow Express's 'trust proxy' setting; connect has neither.
      clientIp: clientIp ? attempt(clientIp, req) : (req.ip ?? req.socket.remoteAddress),
      secure: req.secure ?? (req.socket as TLSSocket).encrypted === true,
      consent: () => (consent ? consent(req) : true),
    }).then((answer) => writeAnswer(res, answer), next);
  };
}
