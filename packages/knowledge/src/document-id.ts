import { createHash } from 'node:crypto';
import { assertSessionId } from '@sessions/core';

/** The sha256 of a document's extracted text, as hex. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The id of a document: the caller's (checked like a session id) or `doc_` + the start of its content hash. */
export function documentId(hash: string, id?: string): string {
  if (id === undefined) return `doc_${hash.slice(0, 32)}`;
  assertSessionId(id, 'document id');
  return id;
}
