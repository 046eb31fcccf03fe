import { ConflictError, InvalidInputError } from '@sessions/core';
import { LRUCache } from 'lru-cache';

export interface IdempotencyOptions {
  /** How long a finished answer is replayed for its key, in milliseconds. Default one hour. */
  ttlMs?: number;
  /** Most finished answers kept (the least recently used go first). Default 10 000. */
  maxEntries?: number;
}

/** What `IdempotencyCache.run` answers: the value, and whether it was a replay of an earlier run. */
export interface IdempotentResult<T> {
  value: T;
  replayed: boolean;
}

interface Pending<T> {
  fingerprint: string;
  promise: Promise<T>;
}

interface Done<T> {
  fingerprint: string;
  value: T;
}

/**
 * Runs each key's work at most once while its answer is kept: a repeat of a finished key gets the
 * kept answer; a repeat of a running key waits for it and gets the same outcome. A repeat whose
 * fingerprint (what was asked) differs is a `ConflictError`. Failures are not kept: a later retry
 * runs again. A run whose outcome `abandoned(error)` says was cut short by its own caller (a client
 * that went away) lets a waiting repeat run the work itself.
 */
export class IdempotencyCache<T extends {}> {
  readonly #done: LRUCache<string, Done<T>>;
  readonly #pending = new Map<string, Pending<T>>();
  readonly #abandoned: (error: unknown) => boolean;

  constructor(options: IdempotencyOptions = {}, abandoned: (error: unknown) => boolean = () => false) {
    const { ttlMs = 3_600_000, maxEntries = 10_000 } = options;
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new InvalidInputError(`idempotency.ttlMs must be a positive number, got ${ttlMs}`);
    }
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new InvalidInputError(`idempotency.maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.#done = new LRUCache<string, Done<T>>({ max: maxEntries, ttl: ttlMs, ttlAutopurge: false });
    this.#abandoned = abandoned;
  }

  async run(key: string, fingerprint: string, work: () => Promise<T>): Promise<IdempotentResult<T>> {
    while (true) {
      const done = this.#done.get(key);
      if (done) {
        this.#check(done.fingerprint, fingerprint);
        return { value: done.value, replayed: true };
      }
      const pending = this.#pending.get(key);
      if (!pending) break;
      this.#check(pending.fingerprint, fingerprint);
      try {
        return { value: await pending.promise, replayed: true };
      } catch (error) {
        if (!this.#abandoned(error)) throw error;
        // The first caller went away before its answer: look again, and run it here if no one has.
      }
    }
    const promise = work();
    this.#pending.set(key, { fingerprint, promise });
    try {
      const value = await promise;
      this.#done.set(key, { fingerprint, value });
      return { value, replayed: false };
    } finally {
      this.#pending.delete(key);
    }
  }

  /** Keys whose work is running. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  #check(kept: string, given: string): void {
    if (kept !== given) {
      throw new ConflictError(
        'This Idempotency-Key was already used for a different request: use a new key for a new message',
      );
    }
  }
}
