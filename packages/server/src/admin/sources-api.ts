// Sources over the admin API. A write key is shown when its source is created, not in lists.
import type { FastifyInstance } from 'fastify';
import type { IpPolicy } from '@inlet/schema';
import { Errors } from '../errors.ts';
import { SOURCE_KINDS, type Source, type SourceStore } from '../sources/source-store.ts';
import { asParams, oneOf, requiredString } from './params.ts';

const IP_POLICIES: readonly IpPolicy[] = ['full', 'anonymize', 'drop'];

/** A source as the API lists it: everything but the write key. */
function publicView(source: Source): Omit<Source, 'writeKey'> {
  const { writeKey: _secret, ...rest } = source;
  return rest;
}

export function registerSourcesApi(app: FastifyInstance, sources: SourceStore): void {
  const find = async (id: string) => (await sources.list()).find((s) => s.id === id);

  app.get('/api/sources', async () => ({ sources: (await sources.list()).map(publicView) }));

  app.post('/api/sources', async (request, reply) => {
    const body = asParams(request.body);
    const name = requiredString(body, 'name');
    const ipPolicy = oneOf(body, 'ipPolicy', IP_POLICIES) ?? 'full';
    const kind = oneOf(body, 'kind', SOURCE_KINDS) ?? 'browser';
    const source = await sources.create({ name, ipPolicy, kind });
    reply.code(201);
    return { source };
  });

  app.get<{ Params: { id: string } }>('/api/sources/:id', async (request) => {
    const source = await find(request.params.id);
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source: publicView(source) };
  });

  app.patch<{ Params: { id: string } }>('/api/sources/:id', async (request) => {
    const name = requiredString(asParams(request.body), 'name');
    const source = await sources.rename(request.params.id, name);
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source: publicView(source) };
  });

  // Revoking twice is not an error: the source stays revoked since the first time.
  app.post<{ Params: { id: string } }>('/api/sources/:id/revoke', async (request) => {
    await sources.revoke(request.params.id);
    const source = await find(request.params.id);
    if (!source) throw Errors.sourceNotFound(request.params.id);
    return { source: publicView(source) };
  });
}
