import * as crypto from 'node:crypto';
import { InvalidInputError } from '@sessions/core';

/** Who a request speaks for when the server has no `auth`. */
export const ANONYMOUS = 'anonymous';

export interface AuthOptions {
  /** Bearer token → principal (the name a session's owner is kept under). */
  tokens: Record<string, string>;
}

/** Finds the principal of an `Authorization` header, or `undefined` when it names no known token. */
export type Authenticator = (authorization: string | undefined) => string | undefined;

/** Node's one-shot `crypto.hash` (20.12+): no `Hash` object per call, and a hex answer is made in C++ (no `Buffer`). */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** The SHA-256 of `text`, as 64 hex digits. */
function digest(text: string): string {
  return oneShot
    ? oneShot('sha256', text, 'hex')
    : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Whether two digests (64 hex digits each) are equal, in time independent of their content: every
 * digit is compared, with no early exit (as `timingSafeEqual` does, without making two `Buffer`s
 * per request). And what is compared are digests, not tokens: even a timing leak could only tell
 * how much of a digest matched, which says nothing usable about the token.
 */
function sameDigest(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks bearer tokens in constant time: the given token's SHA-256 digest is compared with every
 * configured token's digest, digit by digit without an early exit (equal lengths, always all of
 * them), so neither the length nor the content of a token leaks through timing.
 */
export function bearerAuthenticator({ tokens }: AuthOptions): Authenticator {
  if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) {
    throw new InvalidInputError(
      'auth.tokens must map each bearer token to a principal: { "<token>": "alice" }',
    );
  }
  const entries = Object.entries(tokens);
  if (entries.length === 0) {
    throw new InvalidInputError(
      'auth.tokens is empty: give at least one token ({ "<token>": "alice" }) or leave auth out',
    );
  }
  const known = entries.map(([token, principal]) => {
    if (token.trim() === '' || /\s/.test(token)) {
      throw new InvalidInputError('auth.tokens: a token must be a non-empty string without spaces');
    }
    if (typeof principal !== 'string' || principal === '') {
      throw new InvalidInputError('auth.tokens: each token must map to a non-empty principal name');
    }
    return { digest: digest(token), principal };
  });
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const given = digest(match[1]!);
    let found: string | undefined;
    for (const entry of known) {
      if (sameDigest(given, entry.digest) && found === undefined) found = entry.principal;
    }
    return found;
  };
}
