/** The checked value, or the rule it broke ("must be ... (got ...)"). */
export type RuleResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

/** Checks one value parsed from TOML (integers arrive as bigint, floats as number). */
export type Rule<T> = (value: unknown) => RuleResult<T>;

/**
 * A whole number from `min` to `max` (a TOML integer: `5`, not `5.0` or `"5"`). A `limit` is a
 * technical ceiling rather than part of the setting's meaning, so it shows only when exceeded.
 */
export function wholeNumber(min: number, max?: number, limit = Number.MAX_SAFE_INTEGER): Rule<number> {
  const rule =
    max === undefined ? `must be a whole number >= ${min}` : `must be a whole number from ${min} to ${max}`;
  const ceiling = max ?? limit;
  return (value) => {
    if (typeof value !== 'bigint' || value < BigInt(min))
      return { ok: false, problem: `${rule} (got ${show(value)})` };
    if (value > BigInt(ceiling)) {
      return {
        ok: false,
        problem: `${max === undefined ? `must be a whole number <= ${limit}` : rule} (got ${show(value)})`,
      };
    }
    return { ok: true, value: Number(value) };
  };
}

/** A number from `min` up; fractions allowed. `limit` is a technical ceiling, shown only when exceeded. */
export function numberFrom(min: number, limit: number): Rule<number> {
  return (value) => {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || Number.isNaN(n) || n < min)
      return { ok: false, problem: `must be a number >= ${min} (got ${show(value)})` };
    if (n > limit) return { ok: false, problem: `must be a number <= ${limit} (got ${show(value)})` };
    return { ok: true, value: n };
  };
}

/** A string with something other than white space in it; a path may not hold a NUL character. */
export function nonEmptyString(what: 'path' | 'string'): Rule<string> {
  return (value) => {
    if (typeof value !== 'string' || value.trim() === '')
      return { ok: false, problem: `must be a non-empty ${what} (got ${show(value)})` };
    if (what === 'path' && value.includes('\0'))
      return { ok: false, problem: `must not contain a NUL character (got ${show(value)})` };
    return { ok: true, value };
  };
}

/**
 * A bearer token as a client can send it: white space around it is trimmed (a secret file's
 * newline), and what is left must be visible ASCII. The token itself is never shown in a message.
 */
export function bearerToken(value: unknown): RuleResult<string> {
  if (typeof value !== 'string') return { ok: false, problem: `must be a string (got ${show(value)})` };
  return tokenProblem(value);
}

/** The token trimmed, or why no client could send it. */
export function tokenProblem(raw: string): RuleResult<string> {
  const token = raw.trim();
  if (token === '') return { ok: false, problem: 'must not be empty or only white space' };
  const bad = [...token].findIndex((c) => c < '!' || c > '~');
  if (bad >= 0) {
    return {
      ok: false,
      problem: `must be visible ASCII characters only, as sent in an Authorization header (character ${bad + 1} of ${token.length} is not)`,
    };
  }
  return { ok: true, value: token };
}

/** One of a few fixed strings. */
export function oneOf<T extends string>(...choices: T[]): Rule<T> {
  const list = choices.map((c) => `"${c}"`);
  const rule = `must be ${list.slice(0, -1).join(', ')} or ${list.at(-1)}`;
  return (value) => {
    if (typeof value === 'string' && (choices as string[]).includes(value))
      return { ok: true, value: value as T };
    return { ok: false, problem: `${rule} (got ${show(value)})` };
  };
}

/** A TOML value as the user wrote it, for "(got ...)". */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  // smol-toml gives 5.0 as 5: write it back as a float, or the message reads "whole number (got 5)".
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    return Number.isInteger(value) ? `${value}.0` : String(value);
  }
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return `the date ${value.toISOString()}`;
  if (typeof value === 'object' && value !== null) return 'a table';
  return String(value);
}
