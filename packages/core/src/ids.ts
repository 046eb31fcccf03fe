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

/** The character codes of each byte's two hex digits, high then low. */
const HEX_CODES: Uint8Array = new Uint8Array(512);
for (let byte = 0; byte < 256; byte++) {
  const hex = byte.toString(16).padStart(2, '0');
  HEX_CODES[2 * byte] = hex.charCodeAt(0);
  HEX_CODES[2 * byte + 1] = hex.charCodeAt(1);
}
/** Random bytes drawn 4 KiB at a time (one `getRandomValues` call per 256 ids). */
const pool = new Uint8Array(4096);
let used = pool.length;
/** The character codes of the id being made (reused). */
const codes: number[] = [];

/**
 * A new random id (128 bits from the platform's CSPRNG, in hex), optionally with a prefix (`msg_…`).
 * Made in one piece (`String.fromCharCode`), not by concatenation: a concatenated id is a chain
 * of a dozen string pieces in V8, and ids are kept (in every stored message) as long as the history.
 */
export function newId(prefix?: string): string {
  if (used === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    used = 0;
  }
  codes.length = 0;
  if (prefix) {
    for (let i = 0; i < prefix.length; i++) codes.push(prefix.charCodeAt(i));
    codes.push(0x5f); // _
  }
  for (let i = used; i < used + 16; i++) {
    const at = 2 * pool[i]!;
    codes.push(HEX_CODES[at]!, HEX_CODES[at + 1]!);
  }
  used += 16;
  return String.fromCharCode.apply(null, codes);
}
