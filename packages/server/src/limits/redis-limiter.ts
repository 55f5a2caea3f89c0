// Request and event budgets shared by every server instance through Redis. One Lua script checks
// and spends both budgets atomically. Rate limiting must never cost us events, so when Redis is
// unreachable or slow each decision falls back to an in-process MemoryRateLimiter (with the same
// budgets, per instance) and the limiter returns to Redis as soon as it answers again.
import { Redis } from 'ioredis';
import type { RateLimitDecision, RateLimiter } from './rate-limiter.ts';
import { checkSettings, integer, url as urlRule } from '@inlet/schema/settings';
import { checkBudgets, checkEvents, decide, type LimiterLogger, type RateLimitBudgets } from './budgets.ts';
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

// KEYS: requests counter, events counter. ARGV: requests limit, requests window ms, events limit,
// events window ms, events in this request. A denied request spends nothing. The window starts at
// a counter's first increment (PTTL -1 right after it is created); PTTL -2 means no window yet.
// Returns { allowed, requestsFit, requestCount, requestsTtlMs, eventsFit, eventCount, eventsTtlMs }.
const CONSUME_LUA = `
local rLimit, rWin = tonumber(ARGV[1]), tonumber(ARGV[2])
local eLimit, eWin = tonumber(ARGV[3]), tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local r = tonumber(redis.call('GET', KEYS[1]) or '0')
local e = tonumber(redis.call('GET', KEYS[2]) or '0')
local rFit = (r + 1 <= rLimit) and 1 or 0
local eFit = (e + n <= eLimit) and 1 or 0
if rFit == 1 and eFit == 1 then
  r = redis.call('INCRBY', KEYS[1], 1)
  if n > 0 then e = redis.call('INCRBY', KEYS[2], n) end
end
local function ttl(key, win)
  local t = redis.call('PTTL', key)
  if t == -1 then
    redis.call('PEXPIRE', key, win)
    return win
  end
  if t == -2 then return win end
  return t
end
return { rFit * eFit, rFit, r, ttl(KEYS[1], rWin), eFit, e, ttl(KEYS[2], eWin) }
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

type ConsumeCommand = (requestsKey: string, eventsKey: string, ...args: number[]) => Promise<number[]>;

export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  readonly #budgets: RateLimitBudgets;
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

    this.#budgets = { requests: { ...options.requests }, events: { ...options.events } };
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
    this.#redis.defineCommand('inletRateLimit', { numberOfKeys: 2, lua: CONSUME_LUA });
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

  async consume(key: string, events: number): Promise<RateLimitDecision> {
    checkEvents(events);
    // Just after start the socket is still opening: wait for it (within the command bound) rather
    // than let the first requests of every instance spend a local budget.
    if (!this.#everReady && !this.#down && !this.#closed) await this.connected(Math.max(this.#timeoutMs, WARMUP_TIMEOUT_MS));
    if (this.#closed || this.#redis.status !== 'ready' || (this.#down && Date.now() < this.#nextProbe)) {
      return this.#fallback.take(key, events);
    }
    try {
      const decision = await this.#consumeInRedis(key, events);
      this.#warm = true;
      this.#markUp();
      return decision;
    } catch (err) {
      this.#markDown((err as Error).message);
      this.#nextProbe = Date.now() + SLOW_PROBE_INTERVAL_MS;
      return this.#fallback.take(key, events);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.disconnect();
    await this.#fallback.close();
  }

  async #consumeInRedis(key: string, events: number): Promise<RateLimitDecision> {
    const { requests: rb, events: eb } = this.#budgets;
    const command = (this.#redis as unknown as { inletRateLimit: ConsumeCommand }).inletRateLimit.bind(this.#redis);
    const base = `${this.#prefix}{${key}}`;
    let timer: NodeJS.Timeout | undefined;
    const bound = this.#warm ? this.#timeoutMs : Math.max(this.#timeoutMs, WARMUP_TIMEOUT_MS);
    const timeout = new Promise<never>((_, reject) => {
      // A stalled event loop fires this timer before reading a reply that already came back;
      // waiting for the next check phase lets that reply win, so only Redis itself counts as slow.
      timer = setTimeout(() => setImmediate(() => reject(new Error(`no answer within ${bound} ms`))), bound);
    });
    try {
      const reply = await Promise.race([command(`${base}:r`, `${base}:e`, rb.limit, rb.windowMs, eb.limit, eb.windowMs, events), timeout]);
      const [allowed, requestsFit, requestCount, requestsTtl, eventsFit, eventCount, eventsTtl] = reply.map(Number);
      return decide(
        allowed === 1,
        { budget: rb, count: requestCount, resetMs: requestsTtl },
        requestsFit === 1,
        { budget: eb, count: eventCount, resetMs: eventsTtl },
        eventsFit === 1,
      );
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
