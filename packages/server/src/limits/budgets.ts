// Shared by the in-memory and the Redis limiter: option checks and how two budgets' counts become
// one decision, so both limiters answer the same way for the same counts.
import { checkSettings, integer, object } from '@inlet/schema/settings';
import type { Budget, RateLimitDecision } from './rate-limiter.ts';

export interface RateLimitBudgets {
  /** requests per window */
  requests: Budget;
  /** events per window */
  events: Budget;
}

/** Minimal logger (pino and console both fit). */
export interface LimiterLogger {
  warn(message: string): void;
  info(message: string): void;
}

const BUDGET = object({ limit: integer(1), windowMs: integer(1) }, '{ limit, windowMs }');
const BUDGETS = { requests: BUDGET, events: BUDGET };

/** The two budgets of a limiter's options (its other options are its own). */
export function checkBudgets(budgets: RateLimitBudgets): void {
  checkSettings(BUDGETS, budgets as unknown as Record<string, unknown>, { label: 'rate limit', ignoreUnknown: true });
}

export function checkEvents(events: number): void {
  if (!Number.isSafeInteger(events) || events < 0) throw new RangeError(`rate limit: events must be a non-negative integer, got ${String(events)}`);
}

/** One budget's state as seen by a decision: its count after this request and ms until reset. */
export interface BudgetState {
  budget: Budget;
  count: number;
  resetMs: number;
}

/**
 * The deciding budget: when denied, the one that had no room (both → the one resetting last, so
 * Retry-After covers both); when allowed, the one with the smaller share left.
 */
export function decide(allowed: boolean, requests: BudgetState, requestsFit: boolean, events: BudgetState, eventsFit: boolean): RateLimitDecision {
  let decider: BudgetState;
  if (!allowed) {
    if (!requestsFit && !eventsFit) decider = requests.resetMs >= events.resetMs ? requests : events;
    else decider = requestsFit ? events : requests;
  } else {
    const share = (s: BudgetState) => (s.budget.limit - s.count) / s.budget.limit;
    decider = share(events) < share(requests) ? events : requests;
  }
  return {
    allowed,
    limit: decider.budget.limit,
    remaining: Math.max(0, decider.budget.limit - decider.count),
    resetMs: Math.max(0, decider.resetMs),
  };
}
