// What a request spends of its source's rate budgets. A browser source's write key is public: it is
// in every page that loads the SDK, so anyone can send with it. Its requests and events are also
// counted per client address, each address held to a share of the key's budgets
// (RATE_LIMIT_ADDRESS_PERCENT), so that one client (a runaway script, or someone spending the key
// on purpose) cannot use up what every other visitor of the site needs. Server sources send for
// many users from a few back ends, so only their key's budgets count.
//
// A client refused that way tends to send again at once. Reading and parsing each of its bodies
// only to refuse it again would let it take the main thread from everyone else, so a budget with
// nothing left is remembered here until its window resets, and a request whose header key names
// it is refused before its body is read. Only a budget with nothing left: one refused a large batch
// may still take a smaller one.
//
// The share counts the address Inlet believes. Behind a proxy that TRUSTED_PROXIES does not name,
// every visitor has the proxy's address and the whole site gets one share; when that share is what
// refuses requests a private address forwarded with an X-Forwarded-For that was not believed, a
// warning (at most one a minute) says what to set.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { unmapIPv4 } from '@inlet/schema';
import { addressKey, isPrivateAddress } from '../client-ip.ts';
import { Errors, type InletError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Source } from '../sources/source-store.ts';
import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';

/** Spent budgets remembered at once; the oldest go first (forgetting one only costs a limiter call). */
const MAX_SPENT = 10_000;
const PROXY_WARNING_EVERY_MS = 60_000;

export interface SourceBudgetsDeps {
  limiter: RateLimiter;
  metrics: Metrics;
  /** the client's address as the ingest routes take it (app.ts) */
  ipOf: (request: FastifyRequest) => string | undefined;
  log: Pick<FastifyBaseLogger, 'warn'>;
  /** ms clock; tests pass a fake one. Default: a monotonic clock. */
  now?: () => number;
}

/** A 429 and the RateLimit-* headers that go with it. */
export interface BudgetRefusal {
  error: InletError;
  limit: number;
  resetMs: number;
}

interface Spent {
  /** when its window resets (the clock of `now`) */
  until: number;
  limit: number;
}

export class SourceBudgets {
  readonly #deps: SourceBudgetsDeps;
  readonly #now: () => number;
  /** key (source id, or source id NUL address) → its spent budget */
  readonly #spent = new Map<string, Spent>();
  #lastProxyWarning = -Infinity;

  constructor(deps: SourceBudgetsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
  }

  /** Spends one request of `events` events from the source's budgets: the decision, and the 429 to answer when it refused. */
  async spend(source: Source, request: FastifyRequest, events: number): Promise<{ decision: RateLimitDecision; refusal?: InletError }> {
    const address = this.#addressOf(source, request);
    const decision = await this.#deps.limiter.consume(source.id, events, address);
    if (decision.allowed) return { decision };
    if (decision.remaining === 0) this.#remember(decision.byAddress ? `${source.id}\0${address}` : source.id, decision);
    if (decision.byAddress) this.#warnIfProxied(source, request);
    return { decision, refusal: this.#refusal(decision.byAddress, decision.resetMs) };
  }

  /** Before the body is read: the refusal for a source, or its client address, whose budget is known to have nothing left. */
  spentBefore(source: Source, request: FastifyRequest): BudgetRefusal | undefined {
    if (this.#spent.size === 0) return undefined;
    const now = this.#now();
    const address = this.#addressOf(source, request);
    for (const [key, byAddress] of [[source.id, false], [address === undefined ? undefined : `${source.id}\0${address}`, true]] as const) {
      const spent = key === undefined ? undefined : this.#spent.get(key);
      if (spent === undefined) continue;
      if (spent.until > now) return { error: this.#refusal(byAddress, spent.until - now), limit: spent.limit, resetMs: spent.until - now };
      this.#spent.delete(key!);
    }
    return undefined;
  }

  #addressOf(source: Source, request: FastifyRequest): string | undefined {
    if (source.kind !== 'browser') return undefined;
    const ip = this.#deps.ipOf(request);
    return ip === undefined ? undefined : addressKey(ip);
  }

  #remember(key: string, decision: RateLimitDecision): void {
    this.#spent.delete(key);
    if (this.#spent.size >= MAX_SPENT) this.#spent.delete(this.#spent.keys().next().value!);
    this.#spent.set(key, { until: this.#now() + decision.resetMs, limit: decision.limit });
  }

  #refusal(byAddress: boolean, resetMs: number): InletError {
    this.#deps.metrics.rateLimited.labels(byAddress ? 'address' : 'source').inc();
    const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
    return byAddress ? Errors.addressRateLimited(retryAfter) : Errors.rateLimited(retryAfter);
  }

  /**
   * The address that used its share is the connection's own, a private one (as a load balancer's
   * is, in the same network), while the request names another in X-Forwarded-For: a proxy of the
   * operator's own that TRUSTED_PROXIES does not name. A public peer writing the header is just a
   * client, and no reason to trust anyone.
   */
  #warnIfProxied(source: Source, request: FastifyRequest): void {
    const peer = request.socket.remoteAddress && unmapIPv4(request.socket.remoteAddress);
    if (request.headers['x-forwarded-for'] === undefined || !peer || this.#deps.ipOf(request) !== peer || !isPrivateAddress(peer)) return;
    const now = this.#now();
    if (now - this.#lastProxyWarning < PROXY_WARNING_EVERY_MS) return;
    this.#lastProxyWarning = now;
    this.#deps.log.warn({ sourceId: source.id }, 'a client address used its share of a browser source\'s rate limit while its requests carry an X-Forwarded-For this server does not believe: if browsers reach Inlet through a proxy or load balancer, every visitor counts as that proxy; set TRUSTED_PROXIES to the addresses of the proxies you run, and only those (or INLET_PROXY_SECRET for @inlet/node\'s collect proxy), or raise RATE_LIMIT_ADDRESS_PERCENT');
  }
}
