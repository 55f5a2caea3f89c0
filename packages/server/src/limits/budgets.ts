// Shared by the in-memory and the Redis limiter: option checks, a client address's share of a key's
// budgets, and how the budgets' counts become one decision, so both limiters answer the same way
// for the same counts.
import { checkSettings, integer, object } from '@inlet/schema/settings';
import type { Budget, RateLimitDecision } from './rate-limiter.ts';

export interface RateLimitBudgets {
  /** requests per window */
  requests: Budget;
  /** events per window */
  events: Budget;
  /**
   * The share, in per cent, of each budget that one client address may use of a key's, when
   * consume() is given the address (default 100: as much as the key has).
   */
  addressPercent?: number;
  /**
   * The most events one request may carry (MAX_BATCH_EVENTS): an address's events share is never
   * below it, so a full batch from one browser is not refused for ever (the key's own budget still
   * applies).
   */
  largestRequestEvents?: number;
}

/** Minimal logger (pino and console both fit). */
export interface LimiterLogger {
  warn(message: string): void;
  info(message: string): void;
}

const BUDGET = object({ limit: integer(1), windowMs: integer(1) }, '{ limit, windowMs }');
const BUDGETS = { requests: BUDGET, events: BUDGET, addressPercent: integer(1, 100).optional(), largestRequestEvents: integer(1).optional() };

/** The budgets of a limiter's options (its other options are its own). */
export function checkBudgets(budgets: RateLimitBudgets): void {
  checkSettings(BUDGETS, budgets as unknown as Record<string, unknown>, { label: 'rate limit', ignoreUnknown: true });
}

/**
 * What one client address may use of a key's budgets: the share, rounded down, at least 1 (and
 * for events at least the largest request), same window. Undefined when the share is the whole:
 * addresses are then not counted at all.
 */
export function addressBudgets(budgets: RateLimitBudgets): { requests: Budget; events: Budget } | undefined {
  if ((budgets.addressPercent ?? 100) >= 100) return undefined;
  const share = (b: Budget, floor: number): Budget => ({ limit: Math.max(floor, Math.floor((b.limit * (budgets.addressPercent ?? 100)) / 100)), windowMs: b.windowMs });
  return { requests: share(budgets.requests, 1), events: share(budgets.events, budgets.largestRequestEvents ?? 1) };
}

export function checkEvents(events: number): void {
  if (!Number.isSafeInteger(events) || events < 0) throw new RangeError(`rate limit: events must be a non-negative integer, got ${String(events)}`);
}

/** One budget's state as seen by a decision: its count after this request, ms until reset, and whether the request fitted. */
export interface BudgetState {
  budget: Budget;
  count: number;
  resetMs: number;
  fits: boolean;
  /** an address's share of the key's budget, not the key's own */
  ofAddress: boolean;
}

/**
 * The deciding budget: when denied, of those with no room the one resetting last (so Retry-After
 * covers them all); when allowed, the one with the smallest share left.
 */
export function decide(states: BudgetState[]): RateLimitDecision {
  const allowed = states.every((s) => s.fits);
  const share = (s: BudgetState) => (s.budget.limit - s.count) / s.budget.limit;
  let decider: BudgetState | undefined;
  for (const s of states) {
    if (allowed ? decider === undefined || share(s) < share(decider) : !s.fits && (decider === undefined || s.resetMs > decider.resetMs)) decider = s;
  }
  const d = decider!;
  return {
    allowed,
    limit: d.budget.limit,
    remaining: Math.max(0, d.budget.limit - d.count),
    resetMs: Math.max(0, d.resetMs),
    byAddress: d.ofAddress,
  };
}
