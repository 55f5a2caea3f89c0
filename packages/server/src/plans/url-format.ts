// The `url` format of plan schemas (not JSON Schema's own: ajv-formats adds it). ajv-formats checks
// it with a regex on JavaScript's backtracking engine, not on RE2 as patterns are (./regexp.ts),
// and that regex is quadratic in the value: 30 KB of "a:" after "http://" took 0.8 s, so one
// 450 KB batch with a public write key held the server 10 s. It also refuses what a site's events
// carry every day: http://localhost:3000/, private addresses, hosts without a dot.
//
// So a url is what a browser would open, read by the WHATWG URL parser (linear in the value): an
// absolute http, https or ftp URL written with "//" and a host, with no white space (the parser
// would quietly drop or encode it; a value sent with it is not the URL it became).

const SCHEME = /^(?:https?|ftp):\/\//i;
const WHITE_SPACE = /\s/u;

export function isUrl(value: string): boolean {
  if (!SCHEME.test(value) || WHITE_SPACE.test(value)) return false;
  const url = URL.parse(value);
  return url !== null && url.hostname !== '';
}

/** For ajv.addFormat('url', ...), in place of ajv-formats' regex. */
export const urlFormat = { type: 'string' as const, validate: isUrl };
