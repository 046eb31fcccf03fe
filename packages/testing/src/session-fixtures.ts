import type { Message, SessionState } from '@sessions/core';

/**
 * A user message for store tests: id `msg_{n}`, content `message {n}`, created on 2025-01-01 at
 * second `n % 60`, so messages with different `n` differ in every field. `overrides` replaces
 * any field. The same `n` and `overrides` always give an equal message, so a test compares what
 * a store returns with a fresh call.
 */
export function testMessage(n: number, overrides: Partial<Message> = {}): Message {
  return {
    id: `msg_${n}`,
    role: 'user',
    content: `message ${n}`,
    createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, n % 60)).toISOString(),
    ...overrides,
  };
}

/**
 * A valid `SessionState` (schema version 1) for store tests: user `u1`, created 2025-01-01,
 * updated 2025-01-02, empty `data`, no agents. `overrides` replaces any field, e.g.
 * `testState('s1', { userId: 'u2', data: { topic: 'AI' } })`. Each call returns fresh objects.
 */
export function testState(sessionId: string, overrides: Partial<SessionState> = {}): SessionState {
  return {
    schemaVersion: 1,
    sessionId,
    userId: 'u1',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-02T00:00:00.000Z',
    data: {},
    agents: [],
    ...overrides,
  };
}
