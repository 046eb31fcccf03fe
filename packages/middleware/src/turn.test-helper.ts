import type { TurnContext } from '@sessions/core';

/**
 * A turn for middleware tests: session `s1` of user `u1` with `Assistant`, not streaming, message `'hi'`.
 * A string is the message; an object replaces the fields it names.
 */
export function makeTurn(over: string | Partial<TurnContext> = {}): TurnContext {
  return {
    sessionId: 's1',
    userId: 'u1',
    agentName: 'Assistant',
    message: 'hi',
    streaming: false,
    metadata: {},
    ...(typeof over === 'string' ? { message: over } : over),
  };
}
