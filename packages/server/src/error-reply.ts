// How an error becomes an answer, the same on the public and the admin listener: errors of the
// catalogue keep their status, code and Retry-After; anything else is a 500 that says nothing of
// its cause to the client and is logged (message and stack only: never the request's body or keys).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseGoneError, Errors, InletError, SourceStoreUnavailableError } from './errors.ts';

/** The catalogue's error for `error`, or undefined when it is a fault of ours (a 500). */
export function toInletError(error: FastifyError): InletError | undefined {
  if (error instanceof InletError) return error;
  // Said as it is: a retry would not help, a restart would.
  if (error instanceof DatabaseGoneError) return Errors.databaseGone(error.message);
  // The sources' database is down (the admin token is kept there too): a 503 to retry, not our fault.
  if (error instanceof SourceStoreUnavailableError) return Errors.sourceDatabaseUnavailable();
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.bodyTooLarge();
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return Errors.invalidBody('the body is empty; send a JSON object');
  }
  if (error.statusCode !== undefined && error.statusCode < 500) return new InletError('INLET_BAD_REQUEST', error.statusCode, error.message);
  return undefined;
}

/** Sets the status (and Retry-After) for `known`, or logs `error` and answers 500; returns the body. */
export function errorReply(request: FastifyRequest, reply: FastifyReply, known: InletError | undefined, error: FastifyError, logMessage: string): { error: string; code: string } {
  if (!known) {
    request.log.error({ err: { message: error.message, stack: error.stack }, route: request.routeOptions.url }, logMessage);
    reply.code(500);
    return { error: 'Internal server error', code: 'INLET_INTERNAL' };
  }
  if (known.retryAfter !== undefined) reply.header('retry-after', known.retryAfter);
  reply.code(known.statusCode);
  return { error: known.message, code: known.code };
}
