// The options of inletCollect, checked once when the middleware is created: a wrong target or
// path fails at startup with a message naming it, not on the first visitor's request.
import http from 'node:http';
import https from 'node:https';
import { DEFAULT_LIMITS } from '@inlet/schema';
import { checkSetting, checkSettings, func, integer, invalid, refuse, rule, text, then, url, type Rule } from '@inlet/schema/settings';

export interface InletCollectOptions<Req> {
  /** Base URL of the Inlet server as this app reaches it, e.g. 'http://inlet.internal:8080'. */
  target: string;
  /** Where the site serves it; the page loads `${path}/sdk.js` and sends to `${path}`. Default '/_i'. */
  path?: string;
  /**
   * The Inlet server's INLET_PROXY_SECRET: the end user's address is then sent signed, so Inlet
   * believes it whatever this app's address is. Default: the env var INLET_PROXY_SECRET. Without
   * it, Inlet believes the address only through TRUSTED_PROXIES (X-Forwarded-For from this app).
   */
  secret?: string;
  /**
   * May this visitor get the first-party identity cookie? Called for each ingestion request.
   * false: no cookie (an existing one is deleted), and each request's events get a fresh random
   * anonymousId, so nothing links one request to the next. Default: always true.
   */
  consent?(req: Req): boolean | Promise<boolean>;
  /** The end user's address. Default: what the framework says (Express req.ip, Fastify request.ip, the last X-Forwarded-For entry for fetch handlers). */
  clientIp?(req: Req): string | undefined;
  /** Largest request body forwarded, in bytes on the wire. Default 512000 (the Inlet server's MAX_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Longest wait for the Inlet server (and for the browser's body), in ms. Default 10000. */
  timeoutMs?: number;
  /** Agent for the connections to Inlet (TLS options, localAddress, pool size). Default: a keep-alive agent. */
  agent?: http.Agent;
  /**
   * Told when Inlet cannot be reached or does not answer (the browser got 503 with Retry-After)
   * and when `consent` throws. Messages name the route and the error, never a payload.
   * Default: console.warn, at most once every 10 s.
   */
  onError?: (error: CollectError) => void;
}

export class CollectError extends Error {
  override name = 'InletCollectError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface CollectSettings {
  target: URL;
  /** the target's path, without a trailing slash ('' for most) */
  basePath: string;
  prefix: string;
  secret: string | undefined;
  maxBodyBytes: number;
  timeoutMs: number;
  agent: http.Agent;
  ownAgent: boolean;
  request: typeof http.request;
  onError: (error: CollectError) => void;
}

const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;
const LABEL = 'inletCollect';

const target = then(url(['http:', 'https:'], "the Inlet server's http: or https: URL, e.g. 'http://inlet.internal:8080'"), (raw) => {
  const parsed = new URL(raw);
  if (parsed.search || parsed.hash || parsed.username || parsed.password) refuse('must not carry a query, a fragment or credentials');
  return parsed;
});

const OPTIONS = {
  target,
  path: then(text({ pattern: PREFIX, expects: "a path like '/_i' (no trailing slash, no dot segments)" }), (p) =>
    (p.split('/').some((part) => part === '.' || part === '..') ? refuse(`must have no dot segments, got ${JSON.stringify(p)}`) : p)).default('/_i'),
  secret: text({ minLength: 16, secret: true, expects: "at least 16 characters (the Inlet server's INLET_PROXY_SECRET)" }).optional(),
  consent: func<(req: unknown) => boolean | Promise<boolean>>('a function (req) => boolean').optional(),
  clientIp: func<(req: unknown) => string | undefined>('a function (req) => string').optional(),
  maxBodyBytes: integer(1).default(DEFAULT_LIMITS.maxBodyBytes),
  timeoutMs: integer(1).default(10_000),
  agent: (rule((v) => (v instanceof http.Agent ? v : refuse(`must be an http.Agent (or an https.Agent for an https target), got ${typeof v}`))) as Rule<http.Agent>).optional(),
  onError: func<(error: CollectError) => void>().optional(),
};

function throttledWarning(): (error: CollectError) => void {
  let last = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    console.warn(`[inlet] collect: ${error.message}`);
  };
}

export function collectSettings(options: InletCollectOptions<unknown>): CollectSettings {
  const o = checkSettings(OPTIONS, options as unknown as Record<string, unknown>, { label: LABEL });
  const secret = o.secret ?? checkSetting('INLET_PROXY_SECRET', OPTIONS.secret, process.env.INLET_PROXY_SECRET || undefined, LABEL);
  const secure = o.target.protocol === 'https:';
  // An agent of the other protocol fails every request (Node: 'Protocol "http:" not supported').
  if (o.agent !== undefined && (o.agent instanceof https.Agent) !== secure) {
    throw invalid('agent', `must be ${secure ? 'an https.Agent for an https' : 'an http.Agent (not an https.Agent) for an http'} target`, LABEL);
  }
  const agent = o.agent ?? (secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true }));
  return {
    target: o.target,
    basePath: o.target.pathname.replace(/\/+$/, ''),
    prefix: o.path,
    secret,
    maxBodyBytes: o.maxBodyBytes,
    timeoutMs: o.timeoutMs,
    agent,
    ownAgent: o.agent === undefined,
    request: secure ? https.request : http.request,
    onError: o.onError ?? throttledWarning(),
  };
}
