// What the public port takes on at once, so an attack (thousands of connections each sending most
// of a large body, then stalling) costs bounded memory instead of growing the process until the
// machine swaps. Two bounds: open connections (beyond MAX_CONNECTIONS a new one is closed as it is
// accepted: nothing is allocated for it), and bytes of request bodies being read or parsed at once across
// connections (MAX_BODY_BYTES_IN_FLIGHT). A body's declared Content-Length is reserved before any
// of it is read, and a chunked body reserves as it grows; past the budget the request gets 503 with
// Retry-After at once, so the client retries (here later, or on another instance). The reservation
// is released when the body has been parsed (or refused): a body read and waiting for the main
// thread (body-queue.ts) is still in the budget. So the memory returns when an attack ends.
// Anything else the server admits later (events taken but not yet durable) belongs here too.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from './errors.ts';
import type { Metrics } from './metrics.ts';

export interface AdmissionOptions {
  maxConnections: number;
  maxBodyBytesInFlight: number;
  /** bodies declared larger than this are refused (413) before reading, so they reserve nothing */
  maxBodyBytes: number;
}

/** One request's share of the body budget: grows with what it has read, released once. */
export interface BodyReservation {
  /** makes the reservation cover `bytes` in all; false when the budget cannot (nothing changes then) */
  cover(bytes: number): boolean;
  release(): void;
}

/** Bytes of request bodies held while being read, across every connection of the listener. */
export class BodyBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.#used;
  }

  reservation(): BodyReservation {
    let held = 0;
    let released = false;
    return {
      cover: (bytes) => {
        if (released) return false;
        if (bytes <= held) return true;
        if (this.#used + bytes - held > this.limit) return false;
        this.#used += bytes - held;
        held = bytes;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#used -= held;
        held = 0;
      },
    };
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's share of the body budget, made by the admission hook and grown by the body
     * reader. On the request itself, not in a WeakMap keyed by it: an entry per request cost about
     * 1 µs of the main thread with its collection (measured 2026-12-06).
     */
    bodyReservation: BodyReservation | undefined;
  }
}

/** The reservation of a request refused for want of room: it covers nothing, and its body is never read. */
const REFUSED: BodyReservation = { cover: () => false, release: () => {} };

/** The error a request gets when its body does not fit the budget now: 503, Retry-After: 1. */
export const bodyBudgetFull = () => Errors.overloaded('too many request bodies are being read at once', true);

export function registerAdmission(app: FastifyInstance, options: AdmissionOptions, metrics: Metrics): BodyBudget {
  const budget = new BodyBudget(options.maxBodyBytesInFlight);
  // Checked by Node as each connection is accepted; 'drop' says it closed one.
  app.server.maxConnections = options.maxConnections;
  app.server.on('drop', () => metrics.overloaded.labels('connections').inc());
  app.decorateRequest('bodyReservation', undefined);

  app.addHook('onRequest', (request, _reply, done) => {
    const declared = Number(request.headers['content-length']);
    const reservation = budget.reservation();
    // A declared size above the body limit is refused (413) by the reader before any byte is read.
    if (declared > 0 && declared <= options.maxBodyBytes && !reservation.cover(declared)) {
      metrics.overloaded.labels('body_bytes').inc();
      request.bodyReservation = REFUSED;
      return done(bodyBudgetFull());
    }
    request.bodyReservation = reservation;
    done();
  });
  // Whatever happened to the body (read, refused, timed out, the client gone), the bytes come back.
  const release = (request: FastifyRequest, _reply: unknown, done: () => void) => {
    request.bodyReservation?.release();
    // A body refused for want of room is not read at all: Node would otherwise read it to the end
    // (to discard it) before closing, and under an attack those reads are the memory this bounds.
    if (request.bodyReservation === REFUSED) request.raw.socket.destroy();
    done();
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', (request, done) => release(request, undefined, done));
  return budget;
}
