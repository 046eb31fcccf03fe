import * as crypto from 'node:crypto';

/** Node's one-shot `crypto.hash` (20.12+): no `Hash` object per call. */
const oneShot = (
  crypto as { hash?: (algorithm: string, data: string, encoding: 'hex' | 'base64url') => string }
).hash;

/** The SHA-256 of `text` in `encoding`, in one call where Node has it. */
export function sha256(text: string, encoding: 'hex' | 'base64url'): string {
  return oneShot
    ? oneShot('sha256', text, encoding)
    : crypto.createHash('sha256').update(text).digest(encoding);
}
