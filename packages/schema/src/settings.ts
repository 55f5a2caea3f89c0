// The one way Inlet checks settings: the server's env vars and flags, the processor's options, the
// SDKs' constructor options and the Kafka helpers' all go through these rules. A wrong value fails
// at startup with one error class, one stable code (INLET_INVALID_SETTING) and the setting's name,
// instead of each package carrying its own hand-written checks and its own error.
//
// No dependencies and small on purpose: the browser SDK bundles it. A spec is a plain object of
// rules; `checkSettings` reads an input with it and returns the typed values, defaults filled in.
// Text input (env vars, command-line flags) is converted (numbers, booleans, lists); object input
// from code must already have the right type, so `"5"` for a number is refused, not guessed.

export const INVALID_SETTING = 'INLET_INVALID_SETTING';

// Fields are assigned, not declared with initializers: the browser bundle targets ES2020, where
// initialized class fields cost a helper and bytes in the 4 KB budget.
export class InvalidSettingError extends TypeError {
  declare readonly code: typeof INVALID_SETTING;
  /** the setting as the user spelled it: `KAFKA_TOPIC`, `flushIntervalMs`, `kafka.brokers` */
  declare readonly setting: string;

  /** `problem` continues the setting's name: "must be ..., got ..." */
  constructor(setting: string, problem: string, label?: string) {
    super(`${label ? label + ': ' : ''}${setting} ${problem}`);
    this.name = 'InvalidSettingError';
    (this as { code: string }).code = INVALID_SETTING;
    (this as { setting: string }).setting = setting;
  }
}

/** Thrown inside a rule; `checkSettings` turns it into an InvalidSettingError naming the setting. */
class Refusal {
  declare problem: string;
  /** set by the innermost spec that read it: `kafka.brokers` */
  declare setting?: string;
  constructor(problem: string, setting?: string) {
    this.problem = problem;
    this.setting = setting;
  }
}

/** For rules written elsewhere (`rule(...)`): refuses the value with `problem` ("must be ..."). */
export function refuse(problem: string): never {
  throw new Refusal(problem);
}

/** How a value is shown in a message; a secret never is. */
const shown = (value: unknown) => (typeof value === 'function' ? 'a function' : JSON.stringify(value));

type Read<T> = (value: unknown, text: boolean, name: string) => T;

export class Rule<T> {
  declare readonly read: Read<T>;
  constructor(read: Read<T>) {
    this.read = read;
  }

  /** Left out (or empty text): `value`. */
  default<D extends T>(value: D): Rule<T> {
    return new Rule((v, text, name) => (v === undefined || (text && v === '') ? value : this.read(v, text, name)));
  }

  /** Left out (or empty text): undefined. */
  optional(): Rule<T | undefined> {
    return (this as Rule<T | undefined>).default(undefined);
  }
}

/** `first`, then `next` checks or converts what it returned (a function, not a method: bundles drop it when unused). */
export function then<T, U>(first: Rule<T>, next: (value: T, name: string) => U): Rule<U> {
  return new Rule((v, text, name) => next(first.read(v, text, name), name));
}

export type Spec = Record<string, Rule<unknown>>;
export type Settings<S extends Spec> = { [K in keyof S]: S[K] extends Rule<infer T> ? T : never };

function required(value: unknown): void {
  if (value === undefined) refuse('is required');
}

/** A rule from a function that returns the value or calls `refuse`. */
export function rule<T>(read: Read<T>): Rule<T> {
  return new Rule((v, text, name) => {
    required(v);
    return read(v, text, name);
  });
}

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Rule<number> {
  return rule((v, text) => {
    // Text: digits only, so "0x10", "1e3" and " " are refused rather than read as numbers.
    const n = text && typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) refuse(`must be an integer from ${min} to ${max}, got ${shown(v)}`);
    return n;
  });
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, from min to max. Text may also say 500ms, 90s, 30m, 1h or 7d. */
export function duration(min: number, max = Number.MAX_SAFE_INTEGER): Rule<number> {
  return rule((v, text) => {
    const match = text && typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim()) : null;
    const ms = match ? Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']) : v;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < min || ms > max) {
      refuse(`must be ${text ? 'a duration (500ms, 90s, 30m, 1h, 7d, or ms)' : 'an integer number of milliseconds'} from ${min} to ${max} ms, got ${shown(v)}`);
    }
    return ms;
  });
}

/** A number of at least `min` (Infinity too), and at most `max`, from code (the browser SDK's timings and sizes; a delay's `max` is 2^31 - 1 ms, as timers fire a larger one at once). */
export function atLeast(min: number, max = Infinity): Rule<number> {
  return rule((v) => (typeof v == 'number' && v >= min && v <= max ? v : refuse(`must be from ${min} to ${max}, got ${shown(v)}`)));
}

export function boolean(): Rule<boolean> {
  return rule((v, text) => {
    if (typeof v === 'boolean') return v;
    if (text && (v === 'true' || v === '1')) return true;
    if (text && (v === 'false' || v === '0')) return false;
    return refuse(`must be true or false, got ${shown(v)}`);
  });
}

export function oneOf<const C extends readonly string[]>(choices: C): Rule<C[number]> {
  return rule((v) => {
    if (!choices.includes(v as string)) refuse(`must be one of ${choices.join(', ')}, got ${shown(v)}`);
    return v as C[number];
  });
}

/** A non-empty string; `pattern` and `expects` ("1-249 characters of ...") narrow it. */
export function text(o: { pattern?: RegExp; expects?: string; minLength?: number; secret?: boolean } = {}): Rule<string> {
  return rule((v) => {
    const ok = typeof v === 'string' && v.trim() !== '' && v.length >= (o.minLength ?? 1) && (!o.pattern || o.pattern.test(v));
    if (!ok) refuse(`must be ${o.expects ?? 'a non-empty string'}${o.secret ? '' : `, got ${shown(v)}`}`);
    return v as string;
  });
}

/** A URL with one of `protocols` ('http:', 'postgres:', ...), returned as given. */
export function url(protocols: readonly string[], expects = `a ${protocols.join(' or ')} URL`): Rule<string> {
  return rule((v) => {
    let parsed: URL | undefined;
    try {
      parsed = typeof v === 'string' ? new URL(v) : undefined;
    } catch {
      // refused below
    }
    // The value may carry a password: it is not repeated.
    if (!parsed || !protocols.includes(parsed.protocol)) refuse(`must be ${expects}`);
    return v as string;
  });
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- any callable; the caller's type says which
export function func<F extends Function>(expects = 'a function'): Rule<F> {
  return rule((v) => (typeof v === 'function' ? (v as F) : refuse(`must be ${expects}, got ${shown(v)}`)));
}

/** Text: comma-separated; from code: an array or such a string. Empty entries are dropped. */
export function list<T>(item: Rule<T>, o: { expects?: string; nonEmpty?: boolean } = {}): Rule<T[]> {
  return rule((v, text, name) => {
    const entries = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
    if (!Array.isArray(entries) || (o.nonEmpty && entries.length === 0)) refuse(`must be ${o.expects ?? 'a list'}, got ${shown(v)}`);
    return entries.map((entry) => {
      try {
        return item.read(entry, true, name);
      } catch (error) {
        throw error instanceof Refusal ? new Refusal(`entry ${shown(entry)} ${error.problem}`, error.setting) : error;
      }
    });
  });
}

/** A nested object checked with its own spec; its settings are named `outer.inner`. */
export function object<S extends Spec>(spec: S, expects = 'an object'): Rule<Settings<S>> {
  return rule((v, text, name) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) refuse(`must be ${expects}, got ${shown(v)}`);
    return readSpec(spec, v as Record<string, unknown>, text, `${name}.`, false);
  });
}

export interface CheckOptions {
  /** put before each message: '@inlet/node', 'inletCollect' */
  label?: string;
  /** the input is text (env vars, flags): numbers, booleans and lists are converted */
  text?: boolean;
  /** keys the spec does not know are left alone (options objects shared with other code) */
  ignoreUnknown?: boolean;
}

function readSpec<S extends Spec>(spec: S, input: Record<string, unknown>, text: boolean, prefix: string, ignoreUnknown: boolean): Settings<S> {
  for (const key of ignoreUnknown ? [] : Object.keys(input)) {
    if (!(key in spec) && input[key] !== undefined) throw new Refusal(`is not a setting (known: ${Object.keys(spec).join(', ')})`, prefix + key);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(spec)) {
    try {
      out[key] = spec[key].read(input[key], text, prefix + key);
    } catch (error) {
      if (error instanceof Refusal) error.setting ??= prefix + key;
      throw error;
    }
  }
  return out as Settings<S>;
}

/**
 * Reads `input` with `spec`: every setting's rule, in the spec's order; a key the spec does not
 * know is refused (a typo would otherwise silently keep the default). Throws InvalidSettingError.
 */
export function checkSettings<S extends Spec>(spec: S, input: Record<string, unknown> | undefined, o: CheckOptions = {}): Settings<S> {
  if (input === null || typeof input !== 'object') throw new InvalidSettingError('options', `must be an object, got ${shown(input)}`, o.label);
  try {
    return readSpec(spec, input, !!o.text, '', !!o.ignoreUnknown);
  } catch (error) {
    throw error instanceof Refusal ? new InvalidSettingError(error.setting!, error.problem, o.label) : error;
  }
}

/** One value, named `setting`, read with `rule` (a list of topics, one id). */
export function checkSetting<T>(setting: string, rule: Rule<T>, value: unknown, label?: string): T {
  return checkSettings({ [setting]: rule }, { [setting]: value }, { label })[setting] as T;
}

/** A check across settings (one must be below another): the same error, naming `setting`. */
export function invalid(setting: string, problem: string, label?: string): InvalidSettingError {
  return new InvalidSettingError(setting, problem, label);
}
