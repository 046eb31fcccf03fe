import type { Middleware } from '@sessions/core';
import { TimeoutError } from '@sessions/core';
import { aNumber, anObject, checkOption, MAX_DELAY_MS } from './check-option.js';

export interface TimeoutOptions {
  /** Time allowed for everything inside this middleware, in milliseconds. Default 30 000. */
  ms?: number;
}

/**
 * Fails the turn with `TimeoutError` (code `timeout`, retryable) when it runs longer than `ms`.
 * What runs inside sees `turn.signal` aborted (with that error as the reason) at the deadline, so
 * the model request is cancelled; the caller's own signal still aborts it too. `turn.signal` is
 * restored when the turn ends, so a `retry` outside this middleware can try again.
 */
export const timeout = (options: TimeoutOptions = {}): Middleware => {
  checkOption('timeout', 'options', options, anObject);
  const { ms = 30_000 } = options;
  checkOption(
    'timeout',
    'ms',
    ms,
    aNumber({ min: 0, above: true, max: MAX_DELAY_MS, expected: `a number in (0, ${MAX_DELAY_MS}]` }),
  );
  return async function timeout(turn, next) {
    const outer = turn.signal;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener('abort', onAbort, { once: true });

    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(`Turn timed out after ${ms} ms`);
        controller.abort(error);
        reject(error);
      }, ms);
    });
    turn.signal = controller.signal;
    try {
      return await Promise.race([next(), deadline]);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
      turn.signal = outer;
    }
  };
};
