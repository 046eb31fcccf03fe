import type { Middleware, TurnContext } from '@sessions/core';
import { RateLimitError } from '@sessions/core';
import { aFunction, aNumber, anObject, checkOption } from './check-option.js';

export interface RateLimitOptions {
  /** Turns allowed per key within any `windowMs`. */
  limit: number;
  /** Length of the sliding window in milliseconds. */
  windowMs: number;
  /** Whose turns are counted together. Default: the user id, else the session id. */
  key?: (turn: TurnContext) => string;
  /** The clock, in milliseconds. Default `Date.now`. */
  now?: () => number;
}

/**
 * Allows at most `limit` turns per key in any sliding window of `windowMs`, counted in this process
 * (a sliding log: the start time of each turn in the window). Refused turns are not counted; turns
 * that fail are. Throws `RateLimitError` (code `rate_limited`, `retryAfterMs` set) before `next()`.
 */
export const rateLimit = (options: RateLimitOptions): Middleware => {
  checkOption('rateLimit', 'options', options, anObject);
  const {
    limit,
    windowMs,
    key = (turn: TurnContext) => turn.userId || turn.sessionId,
    now = Date.now,
  } = options;
  checkOption(
    'rateLimit',
    'limit',
    limit,
    aNumber({ min: 1, integer: true, expected: 'a positive integer' }),
  );
  checkOption(
    'rateLimit',
    'windowMs',
    windowMs,
    aNumber({ min: 0, above: true, max: Number.MAX_VALUE, expected: 'a positive finite number' }),
  );
  checkOption('rateLimit', 'key', key, aFunction);
  checkOption('rateLimit', 'now', now, aFunction);
  /** Per key, the start times of the turns still in the window, oldest first. */
  const log = new Map<string, number[]>();
  let nextSweep = now() + windowMs;

  const sweep = (time: number): void => {
    nextSweep = time + windowMs;
    for (const [k, times] of log) {
      if ((times.at(-1) ?? Number.NEGATIVE_INFINITY) <= time - windowMs) log.delete(k);
    }
  };

  // Not `async`: a turn let through gets `next()`'s own promise, not one more around it.
  return function rateLimit(turn, next) {
    let time: number;
    let k: string;
    try {
      time = now();
      if (time >= nextSweep) sweep(time);
      k = key(turn);
    } catch (error) {
      return Promise.reject(error);
    }
    let times = log.get(k);
    if (times === undefined) {
      times = [];
      log.set(k, times);
    }
    while (times.length > 0 && times[0]! <= time - windowMs) times.shift();
    if (times.length >= limit) {
      const retryAfterMs = Math.max(1, times[0]! + windowMs - time);
      return Promise.reject(
        new RateLimitError(
          `Rate limit exceeded for "${k}": at most ${limit} turns per ${windowMs} ms; retry in ${retryAfterMs} ms`,
          { retryAfterMs },
        ),
      );
    }
    times.push(time);
    return next();
  };
};
