import { KeyedMutex } from '@sessions/core';

const SHARED = Symbol.for('sessions.state-keyv.mutex');

/**
 * One mutex for the whole process, shared by every store (and by every copy of this package
 * installed), keyed by the full storage key of what it guards.
 */
export function processMutex(): KeyedMutex {
  const holder = globalThis as { [SHARED]?: KeyedMutex };
  holder[SHARED] ??= new KeyedMutex();
  return holder[SHARED];
}
