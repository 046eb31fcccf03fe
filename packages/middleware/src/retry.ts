import type { Middleware } from '@sessions/core';
import { isRetryable, SessionsError } from '@sessions/core';
import { aBoolean, aFunction, aNumber, anObject, checkOption, MAX_DELAY_MS } from './check-option.js';

export interface RetryOptions {
  /** Attempts after the first. Default 2. */
  retries?: number;
  /** Delay before the first retry, in milliseconds. Default 500. */
  minDelayMs?: number;
  /** No delay is longer. Default 10 000. */
  maxDelayMs?: number;
  /** Each delay is the previous one times this. Default 2. */
  factor?: number;
  /** Wait a random time between half the delay and the delay ("equal jitter"). Default true. */
  jitter?: boolean;
  /** Whether `error`, thrown by attempt `attempt` (1-based), is worth another try. Default: core's `isRetryable`. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Waits `ms`; may end early when `signal` aborts. Default: a timer that the signal cancels. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** A number in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs the rest of the chain again when it fails with a retryable error (a timeout, a rate limit,
 * a `ModelError` marked `retryable`), up to `retries` more times, with exponential backoff. A
 * `RateLimitError`'s `retryAfterMs` is honoured: the wait is at least that long, and when that is
 * longer than `maxDelayMs` the error is thrown at once. Never retries once `turn.signal` aborted;
 * the last error is thrown. Each attempt starts from the message as it was before the first one.
 *
 * In streaming mode a retry starts the reply over: deltas of a failed attempt were already sent.
 */
export const retry = (options: RetryOptions = {}): Middleware => {
  checkOption('retry', 'options', options, anObject);
  const {
    retries = 2,
    minDelayMs = 500,
    maxDelayMs = 10_000,
    factor = 2,
    jitter = true,
    shouldRetry = isRetryable,
    sleep = abortableSleep,
    random = Math.random,
  } = options;
  checkOption(
    'retry',
    'retries',
    retries,
    aNumber({ min: 0, integer: true, expected: 'a non-negative integer' }),
  );
  checkOption(
    'retry',
    'minDelayMs',
    minDelayMs,
    aNumber({ min: 0, max: MAX_DELAY_MS, expected: `a number in [0, ${MAX_DELAY_MS}]` }),
  );
  checkOption(
    'retry',
    'maxDelayMs',
    maxDelayMs,
    aNumber({
      min: minDelayMs,
      max: MAX_DELAY_MS,
      expected: `a number in [minDelayMs (${minDelayMs}), ${MAX_DELAY_MS}]`,
    }),
  );
  checkOption(
    'retry',
    'factor',
    factor,
    aNumber({ min: 1, max: Number.MAX_VALUE, expected: 'a finite number >= 1' }),
  );
  checkOption('retry', 'jitter', jitter, aBoolean);
  checkOption('retry', 'shouldRetry', shouldRetry, aFunction);
  checkOption('retry', 'sleep', sleep, aFunction);
  checkOption('retry', 'random', random, aFunction);
  return async function retry(turn, next) {
    const message = turn.message;
    for (let attempt = 1; ; attempt++) {
      try {
        return await next();
      } catch (error) {
        if (attempt > retries || turn.signal?.aborted || !shouldRetry(error, attempt)) throw error;
        let delay = Math.min(maxDelayMs, minDelayMs * factor ** (attempt - 1));
        if (jitter) delay = delay / 2 + (random() * delay) / 2;
        const retryAfterMs = retryAfter(error);
        if (retryAfterMs !== undefined) {
          if (retryAfterMs > maxDelayMs) throw error;
          delay = Math.max(delay, retryAfterMs);
        }
        await sleep(Math.round(delay), turn.signal);
        if (turn.signal?.aborted) throw error;
        turn.message = message;
      }
    }
  };
};

function retryAfter(error: unknown): number | undefined {
  if (!SessionsError.is(error) || error.code !== 'rate_limited') return undefined;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
