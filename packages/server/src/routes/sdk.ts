import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Errors } from '../errors.ts';

function loadBundle(): { plain: Buffer; gzip: Buffer } | undefined {
  try {
    const packageJson = createRequire(import.meta.url).resolve('@inlet/browser/package.json');
    const plain = readFileSync(join(dirname(packageJson), 'dist', 'inlet.min.js'));
    return { plain, gzip: gzipSync(plain, { level: 9 }) };
  } catch {
    return undefined;
  }
}

/** Serves the browser SDK first-party, so ad blockers that match third-party hosts leave it alone. */
export function registerSdkRoute(app: FastifyInstance): void {
  const bundle = loadBundle();
  app.get('/sdk/inlet.min.js', async (request, reply) => {
    if (!bundle) throw Errors.notFound('the browser SDK is not built (run npm install or npm run build)');
    const gzip = /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
    reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .header('vary', 'accept-encoding');
    if (gzip) reply.header('content-encoding', 'gzip');
    return gzip ? bundle.gzip : bundle.plain;
  });
}
