// Request bodies are JSON whatever their Content-Type says: browsers send beacons as text/plain
// (no CORS preflight), RudderStack's Node SDK labels its gzip JSON form-urlencoded, some clients
// send none. A body that is not JSON gets 400 saying so. Optionally gzip; the size bound applies
// to the inflated bytes, so a gzip bomb costs at most that much memory before it gets 413.
// A body refused here keeps its bytes (up to the bound) with the error, so the failed-events
// store can keep them for the source that sent them.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { bodyBudgetFull, reservationOf } from './admission.ts';
import { Errors, InletError } from './errors.ts';
import { parseJsonText } from './numbers.ts';

export interface RefusedBody {
  /** what was read, up to the body limit; undefined when the body was refused before reading */
  bytes?: Buffer;
  /** the body was longer than `bytes` */
  truncated: boolean;
}

const refusedBodies = new WeakMap<Error, RefusedBody>();

/** The bytes of the body an error refused, if it refused one. */
export function refusedBodyOf(error: unknown): RefusedBody | undefined {
  return error instanceof Error ? refusedBodies.get(error) : undefined;
}

function refuse(error: InletError, bytes: Buffer | undefined, truncated = false): InletError {
  refusedBodies.set(error, { bytes, truncated });
  return error;
}

export interface BodyBounds {
  /** largest body, after gunzip */
  maxBytes: number;
  /** the whole body must have arrived this long after reading began */
  timeoutMs: number;
}

/**
 * Gives the memory of body chunks back now instead of at the next full garbage collection. A body
 * that stalled long enough is promoted to the old generation, and after the attack nothing makes
 * V8 collect it (at 2,000 stalled connections, 64 MB stayed held 10 s after the clients left).
 * Only for bodies read as sent: Node's HTTP parser copies each piece of a body into a buffer of its
 * own that nothing else holds once it was emitted, while gunzip output shares its buffers.
 */
function free(chunks: Buffer[]): void {
  for (const chunk of chunks) {
    const { buffer } = chunk;
    // transfer(0) detaches the buffer: its memory is freed now, whatever still points at the object.
    if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength && !buffer.detached) buffer.transfer(0);
  }
  chunks.length = 0;
}

function readBounded(request: FastifyRequest, payload: Readable, bounds: BodyBounds): Promise<Buffer> {
  const { maxBytes } = bounds;
  // The admission hook reserved the declared length; a chunked (or inflating) body covers more as it grows.
  const reservation = reservationOf(request);
  const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  const gzip = encoding === 'gzip' || encoding === 'x-gzip';
  if (!gzip && encoding !== 'identity' && encoding !== '') return Promise.reject(refuse(Errors.unsupportedEncoding(`got "${encoding}"`), undefined));
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(refuse(Errors.bodyTooLarge(`the body is ${declared} bytes; the limit is ${maxBytes}`), undefined, true));

  return new Promise((resolve, reject) => {
    const source = gzip ? payload.pipe(createGunzip()) : payload;
    const chunks: Buffer[] = [];
    let size = 0;
    // gzip: the bytes as sent, for a body that turns out not to be gzip at all
    const sent: Buffer[] = [];
    let sentSize = 0;
    let settled = false;
    // A client that sends its body a byte a second (or a chunked body that never ends) holds its
    // connection and what it sent; it gets 408 and the connection is closed.
    const timer = setTimeout(() => finish(Errors.requestTimeout(`the whole body must arrive within ${bounds.timeoutMs} ms`)), bounds.timeoutMs);
    const finish = (error: InletError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Read (or refused): the bytes in flight are the parsed body's now, or nobody's.
      reservation?.release();
      if (!error) {
        const body = Buffer.concat(chunks, size);
        if (!gzip) free(chunks);
        return resolve(body);
      }
      if (!gzip) free(chunks);
      if (error.statusCode === 408 || error.statusCode === 503) {
        // Nothing more of this body is wanted: the answer goes out and the connection closes.
        if (gzip) source.destroy();
        return reject(error);
      }
      if (gzip) source.destroy();
      payload.resume(); // drain what the client still sends so the reply can go out
      reject(error);
    };
    source.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (size + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - size));
        finish(refuse(Errors.bodyTooLarge(`the limit is ${maxBytes} bytes${gzip ? ' after decompression' : ''}`), Buffer.concat(chunks, maxBytes), true));
        return;
      }
      if (reservation && !reservation.cover(size + chunk.length)) {
        finish(bodyBudgetFull());
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    });
    source.once('end', () => finish(undefined));
    source.once('error', (error: Error & { code?: string }) => {
      finish(gzip && error.code?.startsWith('Z_')
        ? refuse(Errors.invalidGzip(), Buffer.concat(sent, sentSize), sentSize >= maxBytes)
        : Errors.invalidBody(`could not read the body (${error.message})`));
    });
    if (gzip) {
      payload.on('data', (chunk: Buffer) => {
        if (sentSize >= maxBytes) return;
        sent.push(chunk.subarray(0, maxBytes - sentSize));
        sentSize += Math.min(chunk.length, maxBytes - sentSize);
      });
      payload.once('error', () => finish(Errors.invalidBody('the connection failed while reading the body')));
    }
  });
}

/** The media type without parameters, for error messages. */
function mediaType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';', 1)[0].trim().toLowerCase();
  return type ? type.slice(0, 100) : undefined;
}

export function parseJson(buffer: Buffer, contentType?: string): unknown {
  if (buffer.length === 0) throw refuse(Errors.invalidBody('the body is empty; send a JSON object'), buffer);
  try {
    return parseJsonText(buffer.toString('utf8'));
  } catch (error) {
    const type = mediaType(contentType);
    // A form or a binary upload is the likely mistake when the label was not JSON: say what is read.
    const label = type === undefined || type === 'application/json' ? '' : ` (the body is read as JSON whatever the Content-Type; it said ${type})`;
    throw refuse(Errors.malformedJson(`${(error as Error).message}${label}`), buffer);
  }
}

/** `type/subtype`, optionally with parameters: a Content-Type Fastify can read (RFC 9110 tokens). */
const MEDIA_TYPE = /^\s*[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*(?:;|$)/;

export function registerBodyParsers(app: FastifyInstance, bounds: BodyBounds): void {
  // Fastify answers 415 to a Content-Type it cannot read ("", "x", "a/b/c") before any parser
  // runs. The label does not matter here, so an unreadable one is dropped as if none was sent.
  app.addHook('onRequest', (request, _reply, done) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !MEDIA_TYPE.test(type)) delete request.raw.headers['content-type'];
    done();
  });
  app.removeAllContentTypeParsers();
  // '*' also catches requests that send no Content-Type at all.
  app.addContentTypeParser('*', (request, payload, done) => {
    readBounded(request, payload, bounds).then(
      (buffer) => { try { done(null, parseJson(buffer, request.headers['content-type'])); } catch (error) { done(error as Error); } },
      (error: Error) => done(error),
    );
  });
}
