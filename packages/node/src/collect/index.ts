// inletCollect: first-party collection through the app's own server. One name for the three
// shapes an app can have: Express/connect middleware, a Fastify plugin, a fetch-style handler.
import { collectExpress } from './express.ts';
import { collectFastify } from './fastify.ts';
import { collectHandler } from './fetch.ts';

export const inletCollect = Object.assign(collectExpress, { fastify: collectFastify, handler: collectHandler });
export type { InletCollectOptions } from './options.ts';
export { CollectError } from './options.ts';
export type { InletCollectFastifyOptions } from './fastify.ts';
