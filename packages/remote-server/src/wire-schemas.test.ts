import { SessionsError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { parseKnowledgeQuery, parseMemoryQuery, parseMessagesQuery } from './wire-schemas.js';

function messageOf(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    if (SessionsError.is(error) && error.code === 'invalid_input') return error.message;
    throw error;
  }
  throw new Error('expected an InvalidInputError');
}

describe('query numbers', () => {
  it('says which check a limit or offset failed', () => {
    expect(messageOf(() => parseMessagesQuery({ limit: '0' }))).toBe(
      'Invalid query: limit: limit must be at least 1',
    );
    expect(messageOf(() => parseMessagesQuery({ offset: '-1' }))).toBe(
      'Invalid query: offset: offset must be at least 0',
    );
    expect(messageOf(() => parseMessagesQuery({ limit: '1001' }))).toBe(
      'Invalid query: limit: limit must be at most 1000',
    );
    expect(messageOf(() => parseMemoryQuery({ limit: '2.5' }))).toBe(
      'Invalid query: limit: limit must be a whole number',
    );
    expect(messageOf(() => parseKnowledgeQuery({ limit: 'ten' }))).toBe(
      'Invalid query: limit: limit must be a number',
    );
  });

  it('takes numbers in range', () => {
    expect(parseMessagesQuery({ offset: '0', limit: '1000' })).toEqual({ offset: 0, limit: 1000 });
    expect(parseMemoryQuery({ q: 'x', limit: '100' })).toEqual({ q: 'x', limit: 100 });
  });
});
