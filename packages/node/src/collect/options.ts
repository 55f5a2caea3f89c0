// The options of inletCollect, checked once when the middleware is created: a wrong target or
// path fails at startup with a message naming it, not on the first visitor's request.
import http from 'node:http';
import https from 'node:https';
import { DEFAULT_LIMITS } from '@inlet/schema';
import { SettingsError } from '../settings.ts';

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
  consent?: (req: Req) => boolean | Promise<boolean>;
  /** The end user's address. Default: what the framework says (Express req.ip, Fastify request.ip, the last X-Forwarded-For entry for fetch handlers). */
  clientIp?: (req: Req) => string | undefined;
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

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) throw new SettingsError(`inletCollect: ${name} must be a positive integer, got ${String(value)}`);
  return value as number;
}

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
  if (typeof options !== 'object' || options === null) throw new SettingsError('inletCollect: options { target, path } are required');
  let target: URL;
  try {
    target = new URL(options.target);
  } catch {
    throw new SettingsError(`inletCollect: target must be the Inlet server's URL, e.g. 'http://inlet.internal:8080', got ${JSON.stringify(options.target)}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new SettingsError('inletCollect: target must be an http: or https: URL');
  if (target.search || target.hash || target.username || target.password) throw new SettingsError('inletCollect: target must not carry a query, a fragment or credentials');

  const prefix = options.path ?? '/_i';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.split('/').some((part) => part === '.' || part === '..')) {
    throw new SettingsError(`inletCollect: path must look like '/_i' (no trailing slash, no dot segments), got ${JSON.stringify(prefix)}`);
  }
  const secret = options.secret ?? process.env.INLET_PROXY_SECRET;
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < 16)) throw new SettingsError('inletCollect: secret must be at least 16 characters (the Inlet server\'s INLET_PROXY_SECRET)');
  if (options.consent !== undefined && typeof options.consent !== 'function') throw new SettingsError('inletCollect: consent must be a function (req) => boolean');
  if (options.clientIp !== undefined && typeof options.clientIp !== 'function') throw new SettingsError('inletCollect: clientIp must be a function (req) => string');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw new SettingsError('inletCollect: onError must be a function');

  const secure = target.protocol === 'https:';
  const agent = options.agent ?? (secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true }));
  return {
    target,
    basePath: target.pathname.replace(/\/+$/, ''),
    prefix,
    secret: secret || undefined,
    maxBodyBytes: positiveInteger(options.maxBodyBytes, 'maxBodyBytes', DEFAULT_LIMITS.maxBodyBytes),
    timeoutMs: positiveInteger(options.timeoutMs, 'timeoutMs', 10_000),
    agent,
    ownAgent: options.agent === undefined,
    request: secure ? https.request : http.request,
    onError: options.onError ?? throttledWarning(),
  };
}
