import { describe, expect, it } from 'vitest';
import { InvalidInputError, isRetryable, ModelError, SessionsError, TimeoutError } from './errors.js';

describe('errors', () => {
  it('recognises errors by marker and keeps code, name and cause', () => {
    const cause = new Error('socket');
    const error = new ModelError('model failed', { status: 503, retryable: true, cause });
    expect(SessionsError.is(error)).toBe(true);
    expect(SessionsError.is(new Error('x'))).toBe(false);
    expect(SessionsError.is({ code: 'timeout' })).toBe(false);
    expect(error).toMatchObject({ code: 'model_error', name: 'ModelError', status: 503, cause });
  });

  it('tells retryable errors', () => {
    expect(isRetryable(new TimeoutError('slow'))).toBe(true);
    expect(isRetryable(new ModelError('bad request', { status: 400 }))).toBe(false);
    expect(isRetryable(new ModelError('overloaded', { status: 503, retryable: true }))).toBe(true);
    expect(isRetryable(new InvalidInputError('bad'))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });
});
