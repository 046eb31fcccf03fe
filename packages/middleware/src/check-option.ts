import { InvalidInputError } from '@sessions/core';

/** What an option must be: a test, and the words that say it in the error (`'a function'`). */
export interface OptionRule {
  readonly expected: string;
  test(value: unknown): boolean;
}

/** The largest delay `setTimeout` honours (about 24.8 days). */
export const MAX_DELAY_MS: number = 2 ** 31 - 1;

export const aFunction: OptionRule = {
  expected: 'a function',
  test: (value) => typeof value === 'function',
};

export const aBoolean: OptionRule = {
  expected: 'true or false',
  test: (value) => typeof value === 'boolean',
};

export const aString: OptionRule = {
  expected: 'a string',
  test: (value) => typeof value === 'string',
};

export const anObject: OptionRule = {
  expected: 'an object',
  test: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
};

/** An object with these methods: `withMethods('get', 'set')` (a Map, say). */
export function withMethods(...names: readonly string[]): OptionRule {
  return {
    expected: `an object with ${names.join(' and ')} methods`,
    test: (value) =>
      anObject.test(value) &&
      names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function'),
  };
}

/** A number in `[min, max]` (or `(min, max]` with `above`), a whole one with `integer`. */
export function aNumber({
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
  above = false,
  integer = false,
  expected,
}: {
  min?: number;
  max?: number;
  above?: boolean;
  integer?: boolean;
  expected: string;
}): OptionRule {
  return {
    expected,
    test: (value) =>
      typeof value === 'number' &&
      !Number.isNaN(value) &&
      (above ? value > min : value >= min) &&
      value <= max &&
      (!integer || Number.isInteger(value)),
  };
}

/** One of `values`: `'info' or 'error'`. */
export function oneOf(...values: readonly string[]): OptionRule {
  return {
    expected: values.map((v) => `'${v}'`).join(' or '),
    test: (value) => typeof value === 'string' && values.includes(value),
  };
}

/** `rule`, or `undefined`. */
export function optional(rule: OptionRule): OptionRule {
  return {
    expected: `${rule.expected} or undefined`,
    test: (value) => value === undefined || rule.test(value),
  };
}

/**
 * Throws `InvalidInputError` naming the factory and the option unless `value` passes `rule`:
 * `logging: level must be 'info' or 'error', got "x"`.
 */
export function checkOption(factory: string, option: string, value: unknown, rule: OptionRule): void {
  if (!rule.test(value)) {
    throw new InvalidInputError(`${factory}: ${option} must be ${rule.expected}, got ${describe(value)}`);
  }
}

/** A value as an error message shows it: strings quoted, objects by kind. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof RegExp) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
