import { SessionsError } from '@sessions/core';

/** The `SessionsError` a promise rejects with; rethrows any other error, and throws if it resolves. */
export async function caught(promise: Promise<unknown>): Promise<SessionsError & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    if (SessionsError.is(error)) return error as SessionsError & Record<string, unknown>;
    throw error;
  }
  throw new Error('expected a rejection');
}
