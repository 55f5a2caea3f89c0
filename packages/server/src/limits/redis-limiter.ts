// Request and event budgets shared by every server instance through Redis. One Lua script checks
// and spends both budgets atomically. Rate limiting must never cost us events, so when Redis is
// unreachable or slow each decision falls back to an in-process MemoryRateLimiter (with the same
// budgets, per instance) and the limiter returns to Redis as soon as it answers again.
import { Redis } from 'ioredis';
import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';
import { checkSettings, integer, url as urlRule } from '@inlet/schema/settings';
import { addressBudgets, checkBudgets, checkEvents, decide, type BudgetState, type LimiterLogger, type RateLimitBudgets } from './budgets.ts';
import type { Budget } from './rate-limiter.ts';
import { MemoryRateLimiter } from './memory-limiter.ts';

export interface RedisRateLimiterOptions extends RateLimitBudgets {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  /** prefix of every key this limiter writes; default `inlet:rl:` */
  keyPrefix?: string;
  /** receives one warning per outage and one info line per recovery; default console */
  logger?: LimiterLogger;
  /** bound on one decision by Redis before falling back (default 100 ms) */
  commandTimeoutMs?: number;
  /** bound on one connection attempt (default 1000 ms) */
  connectTimeoutMs?: number;
}

// KEYS: the key's requests and events counters, then (optionally) the address's. ARGV: each
// counter's limit and window ms in the order of KEYS, then the events in this request. A denied
// request spends nothing. A window starts at its counter's first increment (PTTL -1 right after it
// is created); PTTL -2 means no window yet. Returns { allowed, then per counter: fits, count, ttl ms }.
const CONSUME_LUA = `
local n = tonumber(ARGV[#ARGV])
local counts, fits, allowed = {}, {}, 1
for i, key in ipairs(KEYS) do
  local amount = (i % 2 == 1) and 1 or n
  counts[i] = tonumber(redis.call('GET', key) or '0')
  fits[i] = (counts[i] + amount <= tonumber(ARGV[2 * i - 1])) and 1 or 0
  if fits[i] == 0 then allowed = 0 end
end
local reply = { allowed }
for i, key in ipairs(KEYS) do
  local amount = (i % 2 == 1) and 1 or n
  if allowed == 1 and amount > 0 then counts[i] = redis.call('INCRBY', key, amount) end
  local window = tonumber(ARGV[2 * i])
  local ttl = redis.call('PTTL', key)
  if ttl == -1 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  elseif ttl == -2 then
    ttl = window
  end
  table.insert(reply, fits[i])
  table.insert(reply, counts[i])
  table.insert(reply, ttl)
end
return reply
`;

// While Redis is connected but too slow, try it again at most this often instead of paying the
// timeout on every request.
const SLOW_PROBE_INTERVAL_MS = 1000;
/**
 * Bound on the first decisions, until one has come back from Redis: connecting and loading the
 * script take longer than a steady-state command, and falling back then would give each new
 * instance a budget of its own.
 */
const WARMUP_TIMEOUT_MS = 1000;

// The number of keys goes first: 2 for a key alone, 4 with an address.
type ConsumeCommand = (keyCount: number, ...args: (string | number)[]) => Promise<number[]>;

export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  readonly #budgets: RateLimitBudgets;
  readonly #addressBudgets: { requests: Budget; events: Budget } | undefined;
  readonly #prefix: string;
  readonly #logger: LimiterLogger;
  readonly #timeoutMs: number;
  readonly #where: string;
  readonly #redis: Redis;
  readonly #fallback: MemoryRateLimiter;
  #down = false;
  #everReady = false;
  #warm = false;
  #nextProbe = 0;
  #closed = false;

  constructor(options: RedisRateLimiterOptions) {
    checkBudgets(options);
    const { commandTimeoutMs, connectTimeoutMs } = checkSettings(
      { url: urlRule(['redis:', 'rediss:'], 'a redis:// or rediss:// URL'), commandTimeoutMs: integer(1).default(100), connectTimeoutMs: integer(1).default(1000) },
      { url: options.url, commandTimeoutMs: options.commandTimeoutMs, connectTimeoutMs: options.connectTimeoutMs }, { label: 'rate limit' });
    const url = new URL(options.url);

    this.#budgets = { requests: { ...options.requests }, events: { ...options.events }, addressPercent: options.addressPercent, largestRequestEvents: options.largestRequestEvents };
    this.#addressBudgets = addressBudgets(this.#budgets);
    this.#prefix = options.keyPrefix ?? 'inlet:rl:';
    this.#logger = options.logger ?? console;
    this.#timeoutMs = commandTimeoutMs;
    // Never the password: this string goes into logs.
    this.#where = `${url.hostname}:${url.port || 6379}`;
    this.#fallback = new MemoryRateLimiter(this.#budgets);

    this.#redis = new Redis(options.url, {
      // Commands fail at once while disconnected instead of piling up and spending budget late.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: connectTimeoutMs,
      // No ioredis commandTimeout: it would cut the first, slower decisions at the steady-state
      // bound. #consumeInRedis bounds every decision itself.
      // Keep reconnecting for as long as the process lives; that is how Redis is picked up again.
      retryStrategy: (times) => Math.min(100 * times, 1000),
    });
    this.#redis.defineCommand('inletRateLimit', { lua: CONSUME_LUA });
    // An 'error' listener is required (ioredis prints unhandled ones); outages are reported once.
    this.#redis.on('error', (err: Error) => this.#markDown(err.message));
    this.#redis.on('close', () => this.#markDown('connection closed'));
    this.#redis.on('ready', () => {
      this.#everReady = true;
      this.#markUp();
    });
  }

  /** true while decisions come from Redis, false while the local fallback decides */
  get shared(): boolean {
    return !this.#down && this.#redis.status === 'ready';
  }

  /**
   * Resolves true once connected to Redis, false when not within timeoutMs. Never rejects.
   */
  async connected(timeoutMs = 1000): Promise<boolean> {
    if (this.#redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#redis.on('ready', onReady);
    });
  }

  async consume(key: string, events: number, address?: string): Promise<RateLimitDecision> {
    checkEvents(events);
    // Just after start the socket is still opening: wait for it (within the command bound) rather
    // than let the first requests of every instance spend a local budget.
    if (!this.#everReady && !this.#down && !this.#closed) await this.connected(Math.max(this.#timeoutMs, WARMUP_TIMEOUT_MS));
    if (this.#closed || this.#redis.status !== 'ready' || (this.#down && Date.now() < this.#nextProbe)) {
      return this.#fallback.take(key, events, address);
    }
    try {
      const decision = await this.#consumeInRedis(key, events, address);
      this.#warm = true;
      this.#markUp();
      return decision;
    } catch (err) {
      this.#markDown((err as Error).message);
      this.#nextProbe = Date.now() + SLOW_PROBE_INTERVAL_MS;
      return this.#fallback.take(key, events, address);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.disconnect();
    await this.#fallback.close();
  }

  async #consumeInRedis(key: string, events: number, address: string | undefined): Promise<RateLimitDecision> {
    const { requests: rb, events: eb } = this.#budgets;
    const command = (this.#redis as unknown as { inletRateLimit: ConsumeCommand }).inletRateLimit.bind(this.#redis);
    // The key in braces is the hash tag: the address's counters are in the key's cluster slot, as
    // one script's keys must be.
    const base = `${this.#prefix}{${key}}`;
    const budgets = [rb, eb];
    const keys = [`${base}:r`, `${base}:e`];
    const shares = this.#addressBudgets;
    if (address !== undefined && shares) {
      budgets.push(shares.requests, shares.events);
      keys.push(`${base}:a:${address}:r`, `${base}:a:${address}:e`);
    }
    let timer: NodeJS.Timeout | undefined;
    const bound = this.#warm ? this.#timeoutMs : Math.max(this.#timeoutMs, WARMUP_TIMEOUT_MS);
    const timeout = new Promise<never>((_, reject) => {
      // A stalled event loop fires this timer before reading a reply that already came back;
      // waiting for the next check phase lets that reply win, so only Redis itself counts as slow.
      timer = setTimeout(() => setImmediate(() => reject(new Error(`no answer within ${bound} ms`))), bound);
    });
    try {
      const reply = (await Promise.race([command(keys.length, ...keys, ...budgets.flatMap((b) => [b.limit, b.windowMs]), events), timeout])).map(Number);
      const states: BudgetState[] = budgets.map((budget, i) => ({
        budget, fits: reply[1 + 3 * i] === 1, count: reply[2 + 3 * i], resetMs: reply[3 + 3 * i], ofAddress: i >= 2,
      }));
      return decide(states);
    } finally {
      clearTimeout(timer);
    }
  }

  #markDown(reason: string): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.#logger.warn(`rate limiter: Redis at ${this.#where} is unavailable (${reason}); deciding with a local per-instance limit until it returns`);
  }

  #markUp(): void {
    if (!this.#down || this.#closed) return;
    this.#down = false;
    this.#nextProbe = 0;
    this.#logger.info(`rate limiter: Redis at ${this.#where} is back; limits are shared again`);
  }
}
