import { InvalidInputError, RateLimitError } from '@sessions/core';

export interface RateLimitOptions {
  /** Requests allowed per principal within any `windowMs`. */
  limit: number;
  /** Length of the sliding window in milliseconds. */
  windowMs: number;
}

/** What `RateLimiter.take` answers: allowed, or refused with the time until a request is allowed again. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * A sliding-window counter per key, in this process: the count of the current fixed window plus the
 * previous window's count weighted by how much of it still overlaps the sliding window. Constant
 * memory per key, and keys idle for two windows are dropped.
 */
export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, { start: number; count: number; previous: number }>();
  #nextSweep: number;

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    const { limit, windowMs } = options;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidInputError(`rateLimit.limit must be a positive integer, got ${limit}`);
    }
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new InvalidInputError(`rateLimit.windowMs must be a positive number, got ${windowMs}`);
    }
    this.limit = limit;
    this.windowMs = windowMs;
    this.#now = now;
    this.#nextSweep = now() + 2 * windowMs;
  }

  /** Counts one request of `key` when allowed. */
  take(key: string): RateDecision {
    const time = this.#now();
    if (time >= this.#nextSweep) this.#sweep(time);
    const start = Math.floor(time / this.windowMs) * this.windowMs;
    let window = this.#windows.get(key);
    if (!window || window.start < start - this.windowMs) {
      window = { start, count: 0, previous: 0 };
      this.#windows.set(key, window);
    } else if (window.start < start) {
      window.previous = window.count;
      window.count = 0;
      window.start = start;
    }
    const overlap = 1 - (time - start) / this.windowMs;
    const used = window.count + window.previous * overlap;
    if (used + 1 > this.limit) {
      // When the previous window's weight has shrunk enough, or (if the current window alone is
      // full) when the next window starts.
      const retryAfterMs =
        window.count + 1 > this.limit || window.previous === 0
          ? start + this.windowMs - time
          : Math.min(
              start + this.windowMs - time,
              ((used + 1 - this.limit) / window.previous) * this.windowMs,
            );
      return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) };
    }
    window.count += 1;
    return { allowed: true };
  }

  #sweep(time: number): void {
    this.#nextSweep = time + 2 * this.windowMs;
    const oldest = Math.floor(time / this.windowMs) * this.windowMs - this.windowMs;
    for (const [key, window] of this.#windows) if (window.start < oldest) this.#windows.delete(key);
  }
}

/** Counts one request of `key`, or throws `RateLimitError` (429) naming `who` and when to retry. */
export function takeOrRefuse(limiter: RateLimiter, key: string, who: string): void {
  const decision = limiter.take(key);
  if (decision.allowed) return;
  throw new RateLimitError(
    `Too many requests ${who}: at most ${limiter.limit} per ${limiter.windowMs} ms; retry in ${decision.retryAfterMs} ms`,
    { retryAfterMs: decision.retryAfterMs },
  );
}
