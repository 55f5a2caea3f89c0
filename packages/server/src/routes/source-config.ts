// What RudderStack's JavaScript SDK (@rudderstack/analytics-js 3.x) fetches before it sends
// anything: `GET <configUrl>/sourceConfig/?writeKey=...` (plus Basic auth once it has the key).
// Answering it here lets `configUrl` point at Inlet, so the SDK runs without RudderStack's
// control plane. Its loader requires `source.id`, `source.config` (an object) and
// `source.destinations` (an array); `source.enabled: false` would stop it. Inlet delivers no
// device-mode destinations and turns the SDK's own error and metrics reporting off, so the SDK
// has no reason to contact anything but Inlet.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { writeKeyOf, type Authenticator } from '../auth.ts';
import { Errors, InletError } from '../errors.ts';
import type { Source } from '../sources/source-store.ts';

/** The body RudderStack's SDK accepts as a source configuration. */
export function sourceConfigOf(source: Source) {
  return {
    isHosted: false,
    source: {
      id: source.id,
      name: source.name,
      enabled: true,
      config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    },
  };
}

export function registerSourceConfigRoute(app: FastifyInstance, deps: { auth: Authenticator; ipOf: (request: FastifyRequest) => string | undefined }): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    let source: Source;
    try {
      source = await deps.auth.authenticate(deps.ipOf(request), () => writeKeyOf(request, undefined, true));
    } catch (error) {
      // One answer for every key that is not an active source's (unknown or revoked): the reply
      // says nothing about which keys exist. Every key takes the same path (the cached lookup).
      if (error instanceof InletError && error.code === Errors.invalidWriteKey.code) throw Errors.invalidWriteKey();
      throw error;
    }
    // Not cached by browsers or proxies: a revoked key must stop working.
    reply.header('cache-control', 'no-store');
    return sourceConfigOf(source);
  };
  // The SDK asks for `/sourceConfig/` (trailing slash); a hand-written configUrl may not.
  app.get('/sourceConfig', handler);
  app.get('/sourceConfig/', handler);
}
