import { InvalidInputError } from './errors.js';

const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Throws `InvalidInputError` unless `id` is 1-128 characters from [A-Za-z0-9._-] and not `.`/`..`,
 * so an id can always be used as a file or key name without escaping.
 */
export function assertSessionId(id: unknown, what = 'session id'): asserts id is string {
  if (typeof id !== 'string' || !SESSION_ID.test(id) || id === '.' || id === '..') {
    const shown =
      typeof id === 'string' ? JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id) : String(id);
    throw new InvalidInputError(
      `Invalid ${what} ${shown}: use 1-128 characters from [A-Za-z0-9._-], not "." or ".."`,
    );
  }
}

/** Whether `id` is a valid session id (see `assertSessionId`). */
export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID.test(id) && id !== '.' && id !== '..';
}

/** A new random id, optionally with a prefix (`msg_…`). */
export function newId(prefix?: string): string {
  const id = globalThis.crypto.randomUUID().replaceAll('-', '');
  return prefix ? `${prefix}_${id}` : id;
}
