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
import { addressKey } from '../client-ip.ts';
import { Errors, type InletError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Source } from '../sources/source-store.ts';
import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';

/** Spent budgets remembered at once; the oldest go first (forgetting one only costs a limiter call). */
const MAX_SPENT = 10_000;

export class SourceBudgets {
  readonly #limiter: RateLimiter;
  readonly #metrics: Metrics;
  /** key (source id, or source id NUL address) → when its window resets (ms, performance.now()) */
  readonly #spent = new Map<string, number>();

  constructor(limiter: RateLimiter, metrics: Metrics) {
    this.#limiter = limiter;
    this.#metrics = metrics;
  }

  /** Spends one request of `events` events from the source's budgets: the decision, and the 429 to answer when it refused. */
  async spend(source: Source, ip: string | undefined, events: number): Promise<{ decision: RateLimitDecision; refusal?: InletError }> {
    const address = addressOf(source, ip);
    const decision = await this.#limiter.consume(source.id, events, address);
    if (decision.allowed) return { decision };
    if (decision.remaining === 0) this.#remember(decision.byAddress ? `${source.id}\0${address}` : source.id, decision.resetMs);
    return { decision, refusal: this.#refusal(decision.byAddress, decision.resetMs) };
  }

  /** Before the body is read: the 429 for a source, or its client address, whose budget is known to have nothing left. */
  spentBefore(source: Source, ip: string | undefined): InletError | undefined {
    if (this.#spent.size === 0) return undefined;
    const now = performance.now();
    const address = addressOf(source, ip);
    for (const [key, byAddress] of [[source.id, false], [address === undefined ? undefined : `${source.id}\0${address}`, true]] as const) {
      const until = key === undefined ? undefined : this.#spent.get(key);
      if (until === undefined) continue;
      if (until > now) return this.#refusal(byAddress, until - now);
      this.#spent.delete(key!);
    }
    return undefined;
  }

  #remember(key: string, resetMs: number): void {
    this.#spent.delete(key);
    if (this.#spent.size >= MAX_SPENT) this.#spent.delete(this.#spent.keys().next().value!);
    this.#spent.set(key, performance.now() + resetMs);
  }

  #refusal(byAddress: boolean, resetMs: number): InletError {
    this.#metrics.rateLimited.labels(byAddress ? 'address' : 'source').inc();
    const retryAfter = Math.max(1, Math.ceil(resetMs / 1000));
    return byAddress ? Errors.addressRateLimited(retryAfter) : Errors.rateLimited(retryAfter);
  }
}

function addressOf(source: Source, ip: string | undefined): string | undefined {
  return source.kind === 'browser' && ip !== undefined ? addressKey(ip) : undefined;
}
