// Writes the collector's Answer to a node:http response (Express, connect, Fastify's reply.raw).
import type { ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import type { Answer } from './collector.ts';

export function writeAnswer(res: ServerResponse, answer: Answer): void {
  if (res.headersSent || res.destroyed) {
    if (answer.body instanceof Readable) answer.body.destroy();
    return;
  }
  // Node then closes the socket after the answer instead of reading the rest of a body we refused.
  if (answer.close) res.setHeader('connection', 'close');
  res.writeHead(answer.status, answer.headers);
  if (answer.body instanceof Readable) pipeline(answer.body, res, () => {});
  else res.end(answer.body);
}

/** A user's function that throws gives no answer rather than a failed request. */
export function attempt<R, T>(fn: (req: R) => T, req: R): T | undefined {
  try {
    return fn(req);
  } catch {
    return undefined;
  }
}
