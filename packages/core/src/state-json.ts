import { InvalidInputError } from './errors.js';
import type { SessionState } from './session-store.js';

/**
 * Checks a state given to `SessionStore.saveState` (or returned by an `updateState` update):
 * an object of `schemaVersion` 1, else `InvalidInputError`. For store implementations.
 */
export function assertSessionState(state: unknown): asserts state is SessionState {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new InvalidInputError('saveState expects a SessionState object');
  }
  const version = (state as { schemaVersion?: unknown }).schemaVersion;
  if (version !== 1) {
    throw new InvalidInputError(
      `Unsupported state schemaVersion ${JSON.stringify(version)}: this store writes version 1`,
    );
  }
}

/** `assertSessionState`, then the state as JSON (`InvalidInputError` when it is not JSON-serialisable). */
export function encodeSessionState(state: unknown): string {
  assertSessionState(state);
  try {
    return JSON.stringify(state);
  } catch (cause) {
    throw new InvalidInputError('The state must be JSON-serialisable', { cause });
  }
}
