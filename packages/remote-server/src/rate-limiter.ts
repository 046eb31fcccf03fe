import { InvalidInputError, RateLimitError } from '@sessions/core';

export interface RateLimitOptions {
  /** Requests allowed per principal within any `windowMs`. */
  limit: number;
  /** Length of the sliding window in milliseconds. */
  windowMs: number;
}

/** What `RateLimiter.take` answers: allowed, or refused with the time until a request is allowed again. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Counts {
  /** Start of the current fixed window. */
  start: number;
  /** Requests counted in it, and when the last of them came. */
  count: number;
  last: number;
  /** The same for the window before. */
  previous: number;
  previousLast: number;
}

/**
 * A sliding-window counter per key, in this process: the count of the current fixed window plus the
 * previous window's count weighted by how much of it still overlaps the sliding window — or nothing
 * of it once its last request is older than the sliding window. Constant memory per key, and keys
 * idle for two windows are dropped.
 */
export class RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Counts>();
  #nextSweep: number;

  /**
   * `maxKeys`: at most this many keys are counted; a new key beyond it drops the key counted first
   * (for keys anyone can make up, such as client addresses).
   */
  constructor(
    options: RateLimitOptions,
    now: () => number = Date.now,
    readonly maxKeys: number = Number.POSITIVE_INFINITY,
  ) {
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
      if (!window && this.#windows.size >= this.maxKeys) {
        this.#windows.delete(this.#windows.keys().next().value!);
      }
      window = { start, count: 0, last: 0, previous: 0, previousLast: 0 };
      this.#windows.set(key, window);
    } else if (window.start < start) {
      window.previous = window.count;
      window.previousLast = window.last;
      window.count = 0;
      window.start = start;
    }
    // The previous window's requests all came by `previousLast`: none is in the sliding window
    // once that is more than a window ago (a burst at its start does not weigh on the next one).
    const previous = window.previousLast >= time - this.windowMs ? window.previous : 0;
    const overlap = 1 - (time - start) / this.windowMs;
    const used = window.count + previous * overlap;
    if (used + 1 > this.limit) {
      // When the current window starts anew, when the previous window's weight has shrunk enough,
      // or when its last request leaves the sliding window, whichever comes first.
      let retryAfterMs = start + this.windowMs - time;
      if (window.count + 1 <= this.limit && previous > 0) {
        retryAfterMs = Math.min(
          retryAfterMs,
          ((used + 1 - this.limit) / previous) * this.windowMs,
          window.previousLast + this.windowMs + 1 - time,
        );
      }
      return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) };
    }
    window.count += 1;
    window.last = time;
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

/**
 * The key a client address is counted under: an IPv4 address as it is (also when IPv4-mapped),
 * an IPv6 address by its /64 network (one host commonly holds a whole /64), `''` when unknown.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
