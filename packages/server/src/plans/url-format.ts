// The `url` format of plan schemas (not JSON Schema's own: ajv-formats adds it). ajv-formats checks
// it with a regex on JavaScript's backtracking engine, not on RE2 as patterns are (./regexp.ts),
// and that regex is quadratic in the value: 30 KB of "a:" after "http://" took 0.8 s, so one
// 450 KB batch with a public write key held the server 10 s. It also refuses what a site's events
// carry every day: http://localhost:3000/, private addresses, hosts without a dot.
//
// So a url is what a browser would open, read by the WHATWG URL parser: an absolute http, https or
// ftp URL written with "//" and a host, with no white space or control character (the parser would
// quietly drop or encode it; a value sent with it is not the URL it became). The parser's time is
// linear in the value but for a host's conversion to ASCII (punycode), which is quadratic in a
// label's length and bounded only near 5,500 characters (16 KB: 36 ms): hosts are held to DNS's
// limits first, 63 characters a label and 253 in all.

const SCHEME = /^(?:https?|ftp):\/\//i;
const NOT_IN_A_URL = /[\s\p{Cc}]/u;
/** a DNS name's 253 characters, and a port */
const MAX_HOST_CHARS = 253 + 6;

/** The host (and port) of the authority from `start` fits DNS's limits. */
function hostFits(value: string, start: number): boolean {
  let end = value.length;
  // (the parser ends an http authority at a backslash too)
  for (const stop of ['/', '?', '#', '\\']) {
    const at = value.indexOf(stop, start);
    if (at >= 0 && at < end) end = at;
  }
  const authority = value.slice(start, end);
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return host.length <= MAX_HOST_CHARS && host.split('.').every((label) => label.length <= 63);
}

export function isUrl(value: string): boolean {
  const scheme = SCHEME.exec(value);
  if (!scheme || NOT_IN_A_URL.test(value) || !hostFits(value, scheme[0].length)) return false;
  const url = URL.parse(value);
  return url !== null && url.hostname !== '';
}

/** For ajv.addFormat('url', ...), in place of ajv-formats' regex. */
export const urlFormat = { type: 'string' as const, validate: isUrl };
