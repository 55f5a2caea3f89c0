import type { FastifyRequest } from 'fastify';
import { Errors, SourceStoreUnavailableError } from './errors.ts';
import type { Source, SourceStore } from './sources/source-store.ts';

/**
 * The write key from `Authorization: Basic base64(key:)` or, failing that, the body's `writeKey`,
 * or, where a route allows it (`fromQuery`: beacons and RudderStack's config request, which
 * cannot set headers or have no body), the URL's `?writeKey=`.
 */
export function writeKeyOf(request: FastifyRequest, body: Record<string, unknown> | undefined, fromQuery = false): string {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const [scheme, token] = header.split(' ', 2);
    if (scheme?.toLowerCase() !== 'basic' || !token) throw Errors.malformedAuthorization('expected "Basic base64(writeKey:)"');
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const key = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    if (!key) throw Errors.malformedAuthorization('the encoded write key is empty');
    return key;
  }
  let key = body?.writeKey;
  if ((key === undefined || key === null || key === '') && fromQuery) key = (request.query as Record<string, unknown> | undefined)?.writeKey;
  if (key === undefined || key === null || key === '') throw Errors.missingWriteKey();
  if (typeof key !== 'string') throw Errors.invalidWriteKey('writeKey must be a string');
  return key;
}

/**
 * Inlet's write keys are 35 characters. Anything much longer is no key of ours: refused before
 * the lookup, so junk keys cannot fill the lookup cache (it remembers misses) or load the database.
 */
const MAX_WRITE_KEY_LENGTH = 256;

export async function authenticate(sources: SourceStore, writeKey: string): Promise<Source> {
  if (writeKey.length > MAX_WRITE_KEY_LENGTH) throw Errors.invalidWriteKey();
  let source: Source | undefined;
  try {
    source = await sources.findByWriteKey(writeKey);
  } catch (error) {
    if (error instanceof SourceStoreUnavailableError) throw Errors.sourceStoreUnavailable();
    throw error;
  }
  if (!source) throw Errors.invalidWriteKey();
  if (source.revokedAt) throw Errors.invalidWriteKey('this write key was revoked');
  return source;
}
