// Reading the admin API's query strings and bodies: each wrong value gets a 400 naming it.
import { Errors } from '../errors.ts';
import { parseSince } from '../durations.ts';

export type Params = Record<string, unknown>;

export const asParams = (value: unknown): Params => (value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Params : {});

export function optionalString(params: Params, name: string, maxLength = 200): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > maxLength) throw Errors.invalidParameter(`${name} must be a string of at most ${maxLength} characters`);
  return value;
}

export function requiredString(params: Params, name: string, maxLength = 200): string {
  const value = optionalString(params, name, maxLength);
  if (value === undefined || value.trim() === '') throw Errors.invalidParameter(`${name} is required`);
  return value;
}

export function optionalTime(params: Params, name: string): number | undefined {
  const value = optionalString(params, name, 64);
  if (value === undefined) return undefined;
  const at = parseSince(value);
  if (at === undefined) throw Errors.invalidParameter(`${name} must be a duration back from now (30m, 1h, 7d) or an ISO timestamp, got "${value}"`);
  return at;
}

export function integerIn(params: Params, name: string, fallback: number, min: number, max: number): number {
  const value = params[name];
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw Errors.invalidParameter(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

export function optionalBoolean(params: Params, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw Errors.invalidParameter(`${name} must be true or false`);
}

export function oneOf<T extends string>(params: Params, name: string, choices: readonly T[]): T | undefined {
  const value = optionalString(params, name, 64);
  if (value === undefined) return undefined;
  if (!choices.includes(value as T)) throw Errors.invalidParameter(`${name} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}
