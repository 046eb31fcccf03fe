import { describe, expect, it } from 'vitest';
import { testMessage, testState } from './index.js';

describe('testMessage', () => {
  it('is a user message named for n, equal for equal arguments', () => {
    expect(testMessage(3)).toEqual({
      id: 'msg_3',
      role: 'user',
      content: 'message 3',
      createdAt: '2025-01-01T00:00:03.000Z',
    });
    expect(testMessage(7, { metadata: { tag: 'a' } })).toEqual(testMessage(7, { metadata: { tag: 'a' } }));
    expect(testMessage(1)).not.toEqual(testMessage(2));
  });

  it('takes overrides for any field', () => {
    expect(testMessage(61, { role: 'tool', content: 'x' })).toEqual({
      id: 'msg_61',
      role: 'tool',
      content: 'x',
      createdAt: '2025-01-01T00:00:01.000Z',
    });
  });
});

describe('testState', () => {
  it('is a schema-1 state of user u1 with empty data', () => {
    expect(testState('s1')).toEqual({
      schemaVersion: 1,
      sessionId: 's1',
      userId: 'u1',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-02T00:00:00.000Z',
      data: {},
      agents: [],
    });
  });

  it('takes overrides and returns fresh objects each call', () => {
    const a = testState('s2', { userId: 'u2', data: { topic: 'AI' } });
    expect(a).toMatchObject({ sessionId: 's2', userId: 'u2', data: { topic: 'AI' } });
    const b = testState('s1');
    b.data.changed = true;
    b.agents.push({ agentId: 'x' } as never);
    expect(testState('s1')).toMatchObject({ data: {}, agents: [] });
  });
});
