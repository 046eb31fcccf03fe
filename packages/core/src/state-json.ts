import { InvalidInputError } from './errors.js';
import { assertJsonValue } from './json-value.js';
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

/**
 * `assertSessionState`, then the state as JSON. `InvalidInputError` when it is not JSON as it is:
 * what `JSON.stringify` would refuse (a bigint, a cycle) or change (`NaN`, `Infinity`, a `Map`, a
 * `Date`, a function, `undefined` in an array); an object property that is `undefined` is left out,
 * as JSON does. The rule of every store here (`MemorySessionStore` too).
 */
export function encodeSessionState(state: unknown): string {
  assertSessionState(state);
  assertJsonValue(state, 'state');
  try {
    return JSON.stringify(state);
  } catch (cause) {
    throw new InvalidInputError('The state must be JSON-serialisable', { cause });
  }
}

/**
 * A session's `updatedAt` as `SessionSummary` and `getContext()` answer it: the later of its
 * state's `updatedAt` and its last message's `createdAt` (a turn appends messages without
 * rewriting the state); either may be unknown.
 */
export function lastChange(
  stateUpdatedAt: string | undefined,
  lastMessageAt: string | undefined,
): string | undefined {
  return lastMessageAt !== undefined && (stateUpdatedAt === undefined || lastMessageAt > stateUpdatedAt)
    ? lastMessageAt
    : stateUpdatedAt;
}
