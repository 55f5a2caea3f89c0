// The regular-expression engine of plan schemas (`pattern`, `patternProperties`): RE2 (re2js, a
// pure-JavaScript port; no native build), whose matching time is linear in the input. A plan's
// patterns run on every event of the public, so a pattern that backtracks catastrophically in a
// backtracking engine ((a+)+$ against "aaaa...!") must not be able to stall a server: with RE2
// it cannot, whatever the pattern. What RE2 cannot do in linear time (lookarounds, backreferences)
// it refuses to compile, so such a plan is refused when it is put, with the reason.
import { RE2JS } from 're2js';

export interface LinearRegExp {
  test(input: string): boolean;
  toString(): string;
}

/** A pattern written for JavaScript (as JSON Schema's are) compiled for RE2; throws with the reason when RE2 cannot take it. */
export function linearRegExp(pattern: string): LinearRegExp {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (error) {
    throw new Error(`the pattern ${JSON.stringify(pattern)} cannot be used: ${(error as Error).message} (Inlet matches patterns with RE2, in time linear in the input: lookarounds and backreferences are not supported)`);
  }
  return { test: (input) => compiled.test(input), toString: () => `/${pattern}/re2` };
}

/** For ajv's `code.regExp` option: every `pattern` and `patternProperties` key goes through RE2. */
export const ajvRegExpEngine = Object.assign((pattern: string) => linearRegExp(pattern), { code: 'inletLinearRegExp' });
