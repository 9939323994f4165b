import { UsageError } from './usage-error.js';

/** Decimal digits only: no sign, exponent, hex, fraction or white space (Number() takes all of those). */
const DIGITS = /^[0-9]{1,16}$/;

/** Parses a whole-number option value, naming the option when it is not one. */
export function wholeNumber(option: string, min: number, max: number, command: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!DIGITS.test(value) || n < min || n > max) {
      throw new UsageError(
        `${option} must be a whole number from ${min} to ${max} (got "${value}")`,
        `ats ${command} --help`,
      );
    }
    return n;
  };
}

/** Parses an option that takes one of a few words. */
export function oneOf<T extends string>(option: string, choices: readonly T[], command: string) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new UsageError(
        `${option} must be one of ${choices.join(', ')} (got "${value}")`,
        `ats ${command} --help`,
      );
    }
    return value as T;
  };
}
