import { InvalidInputError, type Message } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { toOpenAIMessages, toOpenAIName } from './openai-messages.js';

const base = { id: 'm1', createdAt: '2024-01-01T00:00:00.000Z' };

describe('toOpenAIName', () => {
  it('keeps valid names, replaces other characters, cuts at 64, omits empty results', () => {
    expect(toOpenAIName('Assistant_2-b')).toBe('Assistant_2-b');
    expect(toOpenAIName('Research Bot!')).toBe('Research_Bot_');
    expect(toOpenAIName('x'.repeat(80))).toHaveLength(64);
    expect(toOpenAIName('Ωμέγα')).toBeUndefined();
    expect(toOpenAIName('')).toBeUndefined();
    expect(toOpenAIName(undefined)).toBeUndefined();
  });
});

describe('toOpenAIMessages', () => {
  it('keeps assistant text when there are tool calls', () => {
    const [mapped] = toOpenAIMessages([
      {
        ...base,
        role: 'assistant',
        content: 'Checking.',
        toolCalls: [{ id: 'c', name: 'f', arguments: '{}' }],
      },
    ]);
    expect(mapped).toEqual({
      role: 'assistant',
      content: 'Checking.',
      tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
  });

  it('rejects a tool message without toolCallId and an unknown role', () => {
    expect(() => toOpenAIMessages([{ ...base, role: 'tool', content: 'r' }])).toThrow(InvalidInputError);
    expect(() => toOpenAIMessages([{ ...base, role: 'robot' as Message['role'], content: 'r' }])).toThrow(
      /unknown role "robot"/,
    );
  });
});
