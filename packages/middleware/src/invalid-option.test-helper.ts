import { InvalidInputError } from '@sessions/core';

/**
 * The error `create` throws, checked to be an `InvalidInputError` whose message starts with
 * `<factory>: <option> `; throws (failing the test) when `create` throws nothing or something else.
 */
export function expectInvalidOption(create: () => unknown, factory: string, option: string): void {
  let thrown: unknown;
  try {
    create();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof InvalidInputError)) {
    throw new Error(`expected ${factory} to throw InvalidInputError for ${option}, got ${String(thrown)}`);
  }
  if (!thrown.message.startsWith(`${factory}: ${option} `)) {
    throw new Error(`expected the message to start with "${factory}: ${option} ", got "${thrown.message}"`);
  }
}
