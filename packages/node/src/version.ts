import pkg from '../package.json' with { type: 'json' };

/** `context.library` of every event. */
export const LIBRARY = Object.freeze({ name: '@inlet/node', version: pkg.version });
