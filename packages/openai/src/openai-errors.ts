import { ModelError, SessionsError, TimeoutError } from '@sessions/core';
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  OpenAIError,
} from 'openai';

/** HTTP statuses worth retrying: request timeout, conflict, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * The error thrown when a request is aborted through its `signal`: an `Error` whose `name` is
 * `'AbortError'` (as `fetch` uses) and whose `cause` is `signal.reason`.
 */
export function abortError(signal?: AbortSignal, cause?: unknown): Error {
  const error = new Error('The OpenAI request was aborted', { cause: signal?.reason ?? cause });
  error.name = 'AbortError';
  return error;
}

export interface ErrorContext {
  /** What was being done: `'chat completion'`, `'embeddings request'`. */
  what: string;
  signal?: AbortSignal | undefined;
  /** The client's timeout in milliseconds, for the message. */
  timeout?: number | undefined;
}

/**
 * Maps what the openai SDK (or fetch) threw to this project's errors: aborts stay `AbortError`s,
 * SDK timeouts become `TimeoutError`, everything else a `ModelError` (with `status` and `retryable`).
 * The original error is kept as `cause`.
 */
export function toSessionsError(error: unknown, context: ErrorContext): Error {
  const { what, signal } = context;
  if (signal?.aborted || error instanceof APIUserAbortError) return abortError(signal, error);
  if (SessionsError.is(error)) return error;
  if (error instanceof APIConnectionTimeoutError) {
    const after = context.timeout !== undefined ? ` after ${context.timeout} ms` : '';
    return new TimeoutError(`OpenAI ${what} timed out${after}: raise the timeout option or try again`, {
      cause: error,
    });
  }
  if (error instanceof APIConnectionError) {
    const reason = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return new ModelError(`OpenAI ${what} could not connect${reason}`, { cause: error, retryable: true });
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const hint = error.status === 401 ? ' (check the apiKey option or OPENAI_API_KEY)' : '';
    return new ModelError(`OpenAI ${what} failed: ${error.message}${hint}`, {
      cause: error,
      status: error.status,
      retryable: isRetryableStatus(error.status),
    });
  }
  if (error instanceof OpenAIError) {
    return new ModelError(`OpenAI ${what} failed: ${error.message}`, { cause: error, retryable: false });
  }
  if (error instanceof Error && error.name === 'AbortError') return abortError(signal, error);
  // fetch reports network failures (refused, reset, a stream cut short) as TypeErrors.
  const message = error instanceof Error ? error.message : String(error);
  return new ModelError(`OpenAI ${what} failed: ${message}`, {
    cause: error,
    retryable: error instanceof TypeError,
  });
}
