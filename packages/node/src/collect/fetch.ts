// inletCollect.handler for fetch-style handlers (Next.js route handlers, Hono, Bun, Deno, anything
// that maps a Request to a Response). Such a handler sees no socket: the end user's address comes
// from the platform's X-Forwarded-For (its last entry, the one the platform's own edge added)
// unless a clientIp option says otherwise.
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Collector } from './collector.ts';
import { collectSettings, type InletCollectOptions } from './options.ts';
import { attempt } from './respond.ts';

type FetchRequest = globalThis.Request;
type FetchResponse = globalThis.Response;

function lastForwardedFor(header: string | null): string | undefined {
  const last = header?.split(',').pop()?.trim();
  return last !== undefined && isIP(last) ? last : undefined;
}

export function collectHandler(options: InletCollectOptions<FetchRequest>): (request: FetchRequest) => Promise<FetchResponse> {
  const collector = new Collector(collectSettings(options as InletCollectOptions<unknown>));
  const { consent, clientIp } = options;
  return async function inletCollectHandler(request) {
    const url = new URL(request.url);
    const body = request.method === 'POST' && request.body ? Readable.fromWeb(request.body as WebReadableStream<Uint8Array>) : undefined;
    const answer = await collector.handle({
      method: request.method,
      target: url.pathname + url.search,
      // No accept-encoding: the platform compresses what it sends, and must not get gzip it does not expect.
      header: (name) => (name === 'accept-encoding' ? undefined : (request.headers.get(name) ?? undefined)),
      body,
      clientIp: clientIp ? attempt(clientIp, request) : lastForwardedFor(request.headers.get('x-forwarded-for')),
      secure: url.protocol === 'https:',
      consent: () => (consent ? consent(request) : true),
    });
    if (answer.close) body?.destroy();
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.set(name, String(value));
    }
    const out = answer.body instanceof Readable ? (Readable.toWeb(answer.body) as unknown as ReadableStream<Uint8Array>) : (answer.body ?? null);
    return new Response(out, { status: answer.status, headers });
  };
}
