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

/** The host (and port) of the authority from `start` fits DNS's limits. One pass, no copies: this runs for every such value. */
function hostFits(value: string, start: number): boolean {
  let host = 0;
  let label = 0;
  let longest = 0;
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // "/", "?", "#" and, for these schemes, "\\" end the authority
    if (c === 0x2f || c === 0x3f || c === 0x23 || c === 0x5c) break;
    // "@": what came before was user info
    if (c === 0x40) { host = 0; label = 0; longest = 0; continue; }
    host++;
    if (c === 0x2e) label = 0;
    else if (++label > longest) longest = label;
  }
  return host <= MAX_HOST_CHARS && longest <= 63;
}

export function isUrl(value: string): boolean {
  // (For these special schemes the parser refuses an empty host itself: no URL object is needed.)
  return SCHEME.test(value) && !NOT_IN_A_URL.test(value) && hostFits(value, value.indexOf('//') + 2) && URL.canParse(value);
}

/** For ajv.addFormat('url', ...), in place of ajv-formats' regex. */
export const urlFormat = { type: 'string' as const, validate: isUrl };
