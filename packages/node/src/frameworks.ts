// The few members of Express and Fastify objects the middleware uses, declared here rather than
// imported: express and fastify are optional peers, and an `import type ... from 'express'` in
// the shipped declarations is a TS2307 error for every project that has not installed it.
//
// The frameworks' own objects satisfy these types, so an app passes its middleware and plugins
// as they are. The callbacks an app writes (userId, path, consent, clientIp) are declared as
// methods, so their parameter may also be annotated with the framework's own type to see all of
// its members and the app's augmentations: `userId: (req: express.Request) => req.user?.id`.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

declare global {
  // The interface Express's own types extend their Request with, and the one apps and
  // passport augment (`user`). Declaring it merges with theirs when express is installed, so
  // `req.user` is typed in callbacks without an annotation; without express it is just empty.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface Request {}
  }
}

/** An Express 5 request, as the middleware and its callbacks see it (connect's lacks most). */
export interface ExpressRequest extends IncomingMessage, Express.Request {
  method: string;
  url: string;
  /** the URL as received, before routers mounted on a path cut their part off */
  originalUrl: string;
  /** the path the current router is mounted on */
  baseUrl: string;
  path: string;
  /** the matched route; its `path` is the pattern (`/users/:id`) */
  route?: { path?: unknown };
  /** the client's address, following the `trust proxy` setting */
  ip?: string | undefined;
  secure: boolean;
  /** what a body parser left, if one ran */
  body?: unknown;
  /** a request header */
  get(name: string): string | string[] | undefined;
}

/** Express's `next`. */
export type NextFunction = (error?: unknown) => void;

/** A Fastify 5 request, as the plugins and their callbacks see it. */
export interface FastifyRequest {
  id: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** the client's address, following the `trustProxy` setting */
  ip: string;
  protocol: 'http' | 'https';
  /** `url` is the route pattern (`/users/:id`), undefined when no route matched */
  routeOptions: { url?: string | undefined };
  raw: IncomingMessage;
  log: { error(details: object, message: string): void };
}

export interface FastifyReply {
  statusCode: number;
  /** ms since the request came in */
  elapsedTime: number;
  raw: ServerResponse;
  hijack(): unknown;
}

/** Fastify's plugin callback: `app.register(plugin, options)`. */
export type FastifyPlugin<Options, App> = (app: App, options: Options, done: (error?: Error) => void) => void;
