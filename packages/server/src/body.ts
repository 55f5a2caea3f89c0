// Request bodies are JSON whatever their Content-Type says: browsers send beacons as text/plain
// (no CORS preflight), RudderStack's Node SDK labels its gzip JSON form-urlencoded, some clients
// send none. A body that is not JSON gets 400 saying so. Optionally gzip; the size bound applies
// to the inflated bytes, so a gzip bomb costs at most that much memory before it gets 413.
// A body refused here keeps its bytes (up to the bound) with the error, so the failed-events
// store can keep them for the source that sent them.
import type { FastifyContentTypeParser, FastifyInstance, FastifyRequest } from 'fastify';
import { createGunzip } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { bodyBudgetFull } from './admission.ts';
import type { BodyQueue } from './body-queue.ts';
import { Errors, InletError } from './errors.ts';
import { parseJsonText } from './numbers.ts';
import { shorten } from './shorten.ts';

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
  /** a body read but not taken up by the main thread within this is refused, not parsed (default MAX_PARSE_WAIT_MS) */
  maxParseWaitMs?: number;
}

/**
 * How long a read body may wait for the main thread before it is refused (503) instead of parsed.
 * The ingest routes refuse batches before reading them while the oldest body has waited 100 ms
 * (routes/ingest.ts), but what they let in joins the back of the queue: under a 2x overload of
 * the embedded store, the bodies let in then waited 61-139 ms at the median and 199-435 ms at the
 * p99, which was most of an accepted request's time (bench/LOG.md, 2026-12-06, 08:30 UTC
 * session). A body that has waited this long is answered at once instead, which costs the main
 * thread ~0.1 ms where parsing and preparing it costs ~0.8 ms (a batch of 100), and its client
 * retries; the requests still taken are then answered within ~this plus their sink's time: the
 * accepted p99 of that overload went from 372-382 to 205-219 ms, and the refusals' from ~30 to
 * ~180 ms, since those refused here come after 150 ms. Single events too: refusing one costs about
 * what taking it does, so unlike a batch it saves the thread nothing, but what is taken is
 * answered within the bound all the same (an overload of single events is not measured yet).
 */
export const MAX_PARSE_WAIT_MS = 150;

/**
 * The body of a request refused for its wait (the route answers 503). Refused here, by the parser,
 * Fastify would close the connection, as after any parser error, and a client retrying an
 * overload would reconnect for every refusal.
 */
const LATE_BODY: unique symbol = Symbol('a body that waited too long to be parsed');
export const isLateBody = (body: unknown): body is typeof LATE_BODY => body === LATE_BODY;

/**
 * Gives a buffer's memory back now instead of at the next full garbage collection. A body that
 * stalled long enough is promoted to the old generation, and after the attack nothing makes V8
 * collect it (at 2,000 stalled connections, 64 MB stayed held 10 s after the clients left). Only
 * for buffers nothing else shares: Node's HTTP parser copies each piece of a body into a buffer of
 * its own that nothing else holds once it was emitted, and the reader's own body buffer; gunzip
 * output shares its buffers.
 */
function free(chunk: Buffer): void {
  const { buffer } = chunk;
  // transfer(0) detaches the buffer: its memory is freed now, whatever still points at the object.
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength && !buffer.detached) buffer.transfer(0);
}

/**
 * A body's bytes as they arrive. With a declared length (and no gzip) each piece is copied into one
 * buffer of that length and freed at once, so a body holds one allocation, not one per piece: a
 * stalled 480 KB body is a single mapping that goes back to the system when freed (glibc maps
 * blocks above MALLOC_MMAP_THRESHOLD_, bin/inlet.js), while the pieces, freed as they come, reuse
 * the same few blocks of glibc's heap. Otherwise (chunked, gzip) the pieces are kept and joined.
 */
export class BodyBytes {
  readonly #own: boolean;
  #buffer: Buffer | undefined;
  #chunks: Buffer[] = [];
  size = 0;

  /** `own`: the pieces belong to the reader alone (Node's parser output, not gunzip's) */
  constructor(declared: number, own: boolean) {
    this.#own = own;
    if (own && declared > 0) this.#buffer = Buffer.allocUnsafe(declared);
  }

  add(chunk: Buffer): void {
    const at = this.size;
    this.size += chunk.length;
    if (this.#buffer && this.size <= this.#buffer.length) {
      chunk.copy(this.#buffer, at);
      free(chunk); // (a freed buffer's length is 0)
      return;
    }
    // More than declared is for Node's parser to refuse; keep it rather than lose bytes.
    if (this.#buffer) this.#chunks.push(this.#buffer.subarray(0, at));
    this.#buffer = undefined;
    this.#chunks.push(chunk);
  }

  /** what was read; the reader's own buffer is handed over, not copied */
  take(): Buffer {
    if (this.#buffer) {
      const body = this.size === this.#buffer.length ? this.#buffer : this.#buffer.subarray(0, this.size);
      this.#buffer = undefined;
      return body;
    }
    const body = Buffer.concat(this.#chunks, this.size);
    this.release();
    return body;
  }

  /** gives back what was read without handing it over (a body refused or abandoned) */
  release(): void {
    if (this.#buffer) free(this.#buffer);
    this.#buffer = undefined;
    if (this.#own) for (const chunk of this.#chunks) free(chunk);
    this.#chunks = [];
  }
}

/** The body's Content-Encoding, lower case ('identity' when none). */
const encodingOf = (request: FastifyRequest) => (request.headers['content-encoding'] ?? 'identity').toLowerCase().trim();

/** The body is sent gzipped (the only encoding read). */
export const isGzip = (request: FastifyRequest) => {
  const encoding = encodingOf(request);
  return encoding === 'gzip' || encoding === 'x-gzip';
};

function readBounded(request: FastifyRequest, payload: Readable, bounds: BodyBounds): Promise<Buffer> {
  const { maxBytes } = bounds;
  // The admission hook reserved the declared length; a chunked (or inflating) body covers more as it grows.
  const reservation = request.bodyReservation;
  const encoding = encodingOf(request);
  const gzip = isGzip(request);
  if (!gzip && encoding !== 'identity' && encoding !== '') return Promise.reject(refuse(Errors.unsupportedEncoding(`got "${shorten(encoding, 40)}"`), undefined));
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(refuse(Errors.bodyTooLarge(`the body is ${declared} bytes; the limit is ${maxBytes}`), undefined, true));

  return new Promise((resolve, reject) => {
    const source = gzip ? payload.pipe(createGunzip()) : payload;
    const bytes = new BodyBytes(declared, !gzip);
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
      // Read, the body keeps its reservation until parsed (registerBodyParsers): the bodies waiting
      // for the main thread are within the budget too. Refused, its bytes are nobody's.
      if (!error) {
        sent.length = 0; // (gzip: the bytes as sent are not wanted once inflated whole)
        return resolve(bytes.take());
      }
      reservation?.release();
      bytes.release();
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
      if (bytes.size + chunk.length > maxBytes) {
        bytes.add(chunk.subarray(0, maxBytes - bytes.size));
        finish(refuse(Errors.bodyTooLarge(`the limit is ${maxBytes} bytes${gzip ? ' after decompression' : ''}`), bytes.take(), true));
        return;
      }
      if (reservation && !reservation.cover(bytes.size + chunk.length)) {
        finish(bodyBudgetFull());
        return;
      }
      bytes.add(chunk);
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
  // Decoded as it is, a byte that is not UTF-8 becomes U+FFFD and the event is stored changed
  // (a Latin-1 "café" as "caf\uFFFD"). JSON is UTF-8 (RFC 8259); the check costs ~0.5 µs per 45 KB.
  if (!isUtf8(buffer)) {
    const charset = /;\s*charset\s*=\s*"?([\w.:-]{1,40})/i.exec(contentType ?? '')?.[1];
    throw refuse(Errors.malformedJson(`the body is not UTF-8${charset ? ` (it said charset=${charset})` : ''}; JSON must be sent as UTF-8`), buffer);
  }
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

/** `queue`: where a read body waits for the main thread to parse it (./body-queue.ts) */
export function registerBodyParsers(app: FastifyInstance, bounds: BodyBounds, queue: Pick<BodyQueue, 'enqueue'>): void {
  // Fastify answers 415 to a Content-Type it cannot read ("", "x", "a/b/c") before any parser
  // runs. The label does not matter here, so an unreadable one is dropped as if none was sent.
  app.addHook('onRequest', (request, _reply, done) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !MEDIA_TYPE.test(type)) delete request.raw.headers['content-type'];
    done();
  });
  const maxParseWaitMs = bounds.maxParseWaitMs ?? MAX_PARSE_WAIT_MS;
  const parse: FastifyContentTypeParser = (request, payload, done) => {
    readBounded(request, payload, bounds).then(
      (buffer) => queue.enqueue((waitedMs) => {
        // Gone while it waited (a client that timed out under load): nobody would hear of its
        // events, and its retry would store them twice where duplicates are not removed (Kafka).
        if (request.raw.socket?.destroyed) {
          request.bodyReservation?.release();
          free(buffer);
          return done(Errors.invalidBody('the connection closed before the body was parsed'));
        }
        if (waitedMs > maxParseWaitMs) {
          request.bodyReservation?.release();
          free(buffer);
          return done(null, LATE_BODY);
        }
        let body: unknown;
        try {
          body = parseJson(buffer, request.headers['content-type']);
        } catch (error) {
          return done(error as Error); // (which keeps the bytes for the failed-events store)
        } finally {
          request.bodyReservation?.release();
        }
        // Parsed, the bytes are nobody's: a body that arrived slowly may be in the old generation by now.
        free(buffer);
        done(null, body);
      }),
      (error: Error) => done(error),
    );
  };
  app.removeAllContentTypeParsers();
  // '*' also catches requests that send no Content-Type at all. The same parser is named for the
  // two plain labels SDKs send, because Fastify remembers the parser of a label only when a parser
  // names it: for '*' alone it parsed every request's Content-Type again (1.2 µs, 2026-12-06). A
  // label with parameters ("application/json; charset=utf-8") is still parsed each time.
  app.addContentTypeParser('*', parse);
  app.addContentTypeParser(['application/json', 'text/plain'], parse);
}
