import { InvalidInputError } from '@sessions/core';

/** Who a request speaks for when the server has no `auth`. */
export const ANONYMOUS = 'anonymous';

export interface AuthOptions {
  /** Bearer token → principal (the name a session's owner is kept under). */
  tokens: Record<string, string>;
}

/** Finds the principal of an `Authorization` header, or `undefined` when it names no known token. */
export type Authenticator = (authorization: string | undefined) => string | undefined;

/**
 * Whether `given` is `known` (padded with NULs to `width`, its length `knownLength`), in time that
 * depends on neither: `width` characters are always compared, with no early exit, and the lengths
 * too. So the time of a check tells nothing of a token's content or length; it is the same for
 * every header (the longest configured token's length, per token).
 */
function sameToken(given: string, known: string, knownLength: number, width: number): boolean {
  let diff = given.length ^ knownLength;
  for (let i = 0; i < width; i++) diff |= (given.charCodeAt(i) | 0) ^ known.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks bearer tokens in constant time: the given token is compared with every configured token,
 * character by character over the longest configured token's length, with no early exit (see
 * `sameToken`), so neither the content nor the length of a token leaks through timing.
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
    return { token, principal };
  });
  const width = Math.max(...known.map(({ token }) => token.length));
  const padded = known.map(({ token, principal }) => ({
    token: token.padEnd(width, '\0'),
    length: token.length,
    principal,
  }));
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const given = match[1]!;
    let found: string | undefined;
    for (const entry of padded) {
      if (sameToken(given, entry.token, entry.length, width) && found === undefined) found = entry.principal;
    }
    return found;
  };
}
