// The console's static files (built by @inlet/console into its dist/) on the admin listener:
// /console is the page, /console/assets/* its script and stylesheet. Their names carry a content
// hash, so they are cached for a year and the page (never cached) names the current ones. A
// Content-Security-Policy allowing only this origin's files and no inline script or style is sent
// with the page. Files are read once at start and kept gzipped too; they need no session (the page
// holds no data: everything comes from the API).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

interface File { type: string; body: Buffer; gzip: Buffer }

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8' };

/** The built console's directory, or undefined when it is not installed. */
function distDir(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@inlet/console/package.json')), 'dist');
  } catch {
    return undefined;
  }
}

function load(dir: string | undefined): Map<string, File> {
  const files = new Map<string, File>();
  if (!dir || !existsSync(join(dir, 'index.html'))) return files;
  for (const name of readdirSync(dir)) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    files.set(name, { type, body, gzip: gzipSync(body, { level: 9 }) });
  }
  return files;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function send(request: FastifyRequest, reply: FastifyReply, file: File, cacheControl: string): Buffer {
  reply.headers({ ...SECURITY_HEADERS, 'content-type': file.type, 'cache-control': cacheControl, vary: 'accept-encoding' });
  if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
    reply.header('content-encoding', 'gzip');
    return file.gzip;
  }
  return file.body;
}

/** Public paths of the console (no admin token or session needed). */
export const isConsoleFile = (method: string, path: string): boolean =>
  (method === 'GET' || method === 'HEAD') && (path === '/console' || path.startsWith('/console/'));

export function registerConsoleFiles(app: FastifyInstance, dir = distDir()): void {
  const files = load(dir);
  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const index = files.get('index.html');
    if (!index) {
      reply.code(503).header('content-type', 'text/plain; charset=utf-8');
      return 'The console is not built here: run `npm run build` (npm start and npm install do it).\n';
    }
    reply.header('content-security-policy', CONSOLE_CSP);
    return send(request, reply, index, 'no-cache');
  };
  app.get('/console', page);
  app.get('/console/', page);
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (request, reply) => {
    const file = request.params.name === 'index.html' ? undefined : files.get(request.params.name);
    if (!file) {
      reply.code(404).header('content-type', 'text/plain; charset=utf-8');
      return 'Not found\n';
    }
    return send(request, reply, file, 'public, max-age=31536000, immutable');
  });
}
