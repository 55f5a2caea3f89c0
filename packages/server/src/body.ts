// Request bodies: JSON sent as application/json or text/plain (what browsers' beacons use),
// optionally gzip. The size bound applies to the inflated bytes, so a gzip bomb costs at most
// that much memory before it gets 413.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { Errors, InletError } from './errors.ts';

function readBounded(request: FastifyRequest, payload: Readable, maxBytes: number): Promise<Buffer> {
  const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  const gzip = encoding === 'gzip' || encoding === 'x-gzip';
  if (!gzip && encoding !== 'identity' && encoding !== '') return Promise.reject(Errors.unsupportedEncoding(`got "${encoding}"`));
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(Errors.bodyTooLarge(`the limit is ${maxBytes} bytes`));

  return new Promise((resolve, reject) => {
    const source = gzip ? payload.pipe(createGunzip()) : payload;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: InletError | undefined) => {
      if (settled) return;
      settled = true;
      if (!error) return resolve(Buffer.concat(chunks, size));
      if (gzip) source.destroy();
      payload.resume(); // drain what the client still sends so the reply can go out
      reject(error);
    };
    source.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) finish(Errors.bodyTooLarge(`the limit is ${maxBytes} bytes${gzip ? ' after decompression' : ''}`));
      else chunks.push(chunk);
    });
    source.once('end', () => finish(undefined));
    source.once('error', (error: Error & { code?: string }) => {
      finish(gzip && error.code?.startsWith('Z_') ? Errors.invalidGzip() : Errors.invalidBody(`could not read the body (${error.message})`));
    });
    if (gzip) payload.once('error', () => finish(Errors.invalidBody('the connection failed while reading the body')));
  });
}

export function parseJson(buffer: Buffer): unknown {
  if (buffer.length === 0) throw Errors.invalidBody('the body is empty; send a JSON object');
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch (error) {
    throw Errors.malformedJson((error as Error).message);
  }
}

export function registerBodyParsers(app: FastifyInstance, maxBodyBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain'], (request, payload, done) => {
    readBounded(request, payload, maxBodyBytes).then(
      (buffer) => { try { done(null, parseJson(buffer)); } catch (error) { done(error as Error); } },
      (error: Error) => done(error),
    );
  });
}
