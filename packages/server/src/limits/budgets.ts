// Shared by the in-memory and the Redis limiter: option checks and how two budgets' counts become
// one decision, so both limiters answer the same way for the same counts.
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

function checkBudget(name: string, budget: Budget | undefined): void {
  if (!budget || typeof budget !== 'object') throw new TypeError(`rate limit: ${name} budget is required ({ limit, windowMs })`);
  const { limit, windowMs } = budget;
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new RangeError(`rate limit: ${name}.limit must be a positive integer, got ${String(limit)}`);
  }
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw new RangeError(`rate limit: ${name}.windowMs must be a positive integer of milliseconds, got ${String(windowMs)}`);
  }
}

export function checkBudgets(budgets: RateLimitBudgets): void {
  checkBudget('requests', budgets?.requests);
  checkBudget('events', budgets?.events);
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
