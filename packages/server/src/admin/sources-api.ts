// Sources over the admin API. A write key is shown when it is made (a source created, a key
// rotated) and never again: the store keeps only its hash.
import type { FastifyInstance } from 'fastify';
import type { IpPolicy } from '@inlet/schema';
import { Errors } from '../errors.ts';
import { InvalidSourceError, SOURCE_KINDS, SourceNameTakenError, type SourceStore } from '../sources/source-store.ts';
import { asParams, oneOf, requiredString } from './params.ts';

const IP_POLICIES: readonly IpPolicy[] = ['full', 'anonymize', 'drop'];

/** A create or rename the store refused, as the API's error: a taken name is a 409, a bad one a 400. */
function refused(error: unknown): unknown {
  if (error instanceof SourceNameTakenError) return Errors.sourceNameTaken(error.message);
  if (error instanceof InvalidSourceError) return Errors.invalidParameter(error.message);
  return error;
}

export function registerSourcesApi(app: FastifyInstance, sources: SourceStore): void {
  const find = async (id: string) => (await sources.list()).find((s) => s.id === id);

  app.get('/api/sources', async () => ({ sources: await sources.list() }));

  app.post('/api/sources', async (request, reply) => {
    const body = asParams(request.body);
    const name = requiredString(body, 'name');
    const ipPolicy = oneOf(body, 'ipPolicy', IP_POLICIES) ?? 'full';
    const kind = oneOf(body, 'kind', SOURCE_KINDS) ?? 'browser';
    const source = await sources.create({ name, ipPolicy, kind }).catch((error: unknown) => { throw refused(error); });
    reply.code(201);
    return { source };
  });

  app.get<{ Params: { id: string } }>('/api/sources/:id', async (request) => {
    const source = await find(request.params.id);
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source };
  });

  app.patch<{ Params: { id: string } }>('/api/sources/:id', async (request) => {
    const name = requiredString(asParams(request.body), 'name');
    const source = await sources.rename(request.params.id, name).catch((error: unknown) => { throw refused(error); });
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source };
  });

  // The source with its new key, shown this once; the old key stops working (on every instance within 5 s).
  app.post<{ Params: { id: string } }>('/api/sources/:id/rotate-key', async (request) => {
    const source = await sources.rotateKey(request.params.id);
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source };
  });

  // Revoking twice is not an error: the source stays revoked since the first time.
  app.post<{ Params: { id: string } }>('/api/sources/:id/revoke', async (request) => {
    await sources.revoke(request.params.id);
    const source = await find(request.params.id);
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source };
  });
}
