// Requests refused before any route sees them, by Node's HTTP parser (a header block too large,
// framing that is not HTTP, headers too slow) or by Fastify's router (a path with a malformed
// %-escape, a path parameter too long). Their answers have the catalogue's shape like every other
// (`{ error, code }`), not the frameworks' own (`{ error, message, statusCode }` without a code).
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Errors, InletError } from './errors.ts';

/** What Node's parser refused, as the catalogue says it (with the statuses Node gives). */
function parserRefusal(code: string | undefined): InletError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new InletError(Errors.requestTimeout.code, 408, 'The request did not arrive in time');
  if (code === 'HPE_HEADER_OVERFLOW') return Errors.headersTooLarge();
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return new InletError(Errors.bodyTooLarge.code, 413, 'The chunked body\'s extensions are too large');
  return Errors.badRequest('the request is not valid HTTP/1.1 (its framing or headers)');
}

/** Fastify's clientErrorHandler: answers what the parser refused, then closes the connection, as Node does. */
export function answerClientError(error: Error & { code?: string }, socket: Socket & { _httpMessage?: { headersSent?: boolean } }): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Nor one whose response has begun (a timeout while it streams): a second one would follow it.
  if (socket.writable && !socket._httpMessage?.headersSent) {
    const refusal = parserRefusal(error.code);
    const body = JSON.stringify({ error: refusal.message, code: refusal.code });
    socket.write(`HTTP/1.1 ${refusal.statusCode} ${STATUS_CODES[refusal.statusCode]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

/** Fastify's frameworkErrors: a URL its router cannot take. */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const refusal = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? Errors.uriTooLong('a part of the path is too long')
    : error.code === 'FST_ERR_BAD_URL' ? Errors.badRequest('the path has a malformed %-escape') : Errors.badRequest('the request could not be routed');
  void reply.code(refusal.statusCode).send({ error: refusal.message, code: refusal.code });
}
