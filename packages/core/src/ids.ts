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

const HEX: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
/** Random bytes drawn 4 KiB at a time (one `getRandomValues` call per 256 ids). */
const pool = new Uint8Array(4096);
let used = pool.length;

/** A new random id (128 bits from the platform's CSPRNG, in hex), optionally with a prefix (`msg_…`). */
export function newId(prefix?: string): string {
  if (used === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    used = 0;
  }
  let id = prefix ? `${prefix}_` : '';
  for (let i = used; i < used + 16; i++) id += HEX[pool[i]!];
  used += 16;
  return id;
}
