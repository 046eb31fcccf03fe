import {
  type AppendOptions,
  type AppendResult,
  assertSessionId,
  type HistoryCursor,
  InvalidInputError,
  type ListFilter,
  type Message,
  type SessionState,
  type SessionStore,
  type SessionSummary,
  type StoredSession,
  type StoredTail,
} from '@sessions/core';
import type { Keyv } from 'keyv';
import { GenericDriver } from './generic-driver.js';
import { isRedisAdapter, RedisDriver } from './redis-driver.js';
import { isSqliteAdapter, SqliteDriver } from './sqlite-driver.js';
import { checkedCursor, type StoreDriver } from './store-driver.js';
import { checkIdempotencyKey, encodeMessages, encodeState } from './validate.js';

/**
 * How the store talks to its Keyv adapter, chosen from the adapter:
 * - `redis`: `@keyv/redis`; every operation is one Lua script, atomic on the server.
 * - `sqlite`: `@keyv/sqlite`; every operation is one SQL statement, atomic in SQLite.
 * - `generic`: any other adapter (a `Map` in memory, Postgres, MySQL, Mongo...); plain gets and
 *   sets under a lock of this process.
 */
export type KeyvSessionStoreDriver = 'redis' | 'sqlite' | 'generic';

export interface KeyvSessionStoreOptions {
  /** The Keyv to store sessions in (any adapter). The store does not close it. */
  keyv: Keyv;
  /** Start of every key the store writes, after Keyv's namespace. 1-32 of [A-Za-z0-9._-]. Default `sessions`. */
  prefix?: string;
  /**
   * Throw at construction unless the adapter is safe with several processes writing to one
   * database (Redis or SQLite). Default `false`.
   */
  requireMultiProcess?: boolean;
  /** SQLite: how long a statement retries while another connection holds the database lock. Default 30 000 ms. */
  busyTimeoutMs?: number;
  /**
   * Generic adapters other than an in-memory `Map`: another process that wrote to the database
   * within this many ms makes writes fail with a `ConflictError`. `0` turns the check off.
   * Default 30 000 ms.
   */
  writerLeaseMs?: number;
}

const PREFIX = /^[A-Za-z0-9._-]{1,32}$/;

function isKeyv(value: unknown): value is Keyv {
  const k = value as Partial<Keyv> | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    typeof k.serializeData === 'function' &&
    typeof k.deserializeData === 'function' &&
    typeof k.store === 'object' &&
    k.store !== null
  );
}

function nonNegative(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(`${name} must be a number of milliseconds, 0 or more`);
  }
  return value;
}

/**
 * A `SessionStore` on a Keyv: SQLite (`@keyv/sqlite`) and Redis (`@keyv/redis`) with atomic
 * operations, safe for several processes on one database; any other adapter within one process.
 *
 * ```ts
 * const store = new KeyvSessionStore({
 *   keyv: new Keyv({ store: new KeyvSqlite({ uri: 'sqlite://.sessions/sessions.sqlite' }), namespace: 'sessions' }),
 * });
 * ```
 */
export class KeyvSessionStore implements SessionStore {
  readonly keyv: Keyv;
  /** Start of the store's keys, after Keyv's namespace. */
  readonly prefix: string;
  /** How the store talks to the adapter (see `KeyvSessionStoreDriver`). */
  readonly driver: KeyvSessionStoreDriver;
  /** Whether several processes may use this store's database at once (`redis` and `sqlite` drivers). */
  readonly multiProcess: boolean;
  readonly #driver: StoreDriver;

  constructor(options: KeyvSessionStoreOptions) {
    const keyv = (options as Partial<KeyvSessionStoreOptions> | undefined)?.keyv;
    if (!isKeyv(keyv)) {
      throw new InvalidInputError(
        'KeyvSessionStore needs { keyv }: a Keyv instance, e.g. new Keyv({ store: new KeyvSqlite(...) })',
      );
    }
    const prefix = options.prefix ?? 'sessions';
    if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
      throw new InvalidInputError(
        `Invalid prefix ${JSON.stringify(prefix)}: use 1-32 characters from [A-Za-z0-9._-]`,
      );
    }
    const busyTimeoutMs = nonNegative(options.busyTimeoutMs, 'busyTimeoutMs', 30_000);
    const writerLeaseMs = nonNegative(options.writerLeaseMs, 'writerLeaseMs', 30_000);
    this.keyv = keyv;
    this.prefix = prefix;
    const store: unknown = keyv.store;
    if (isRedisAdapter(store)) {
      if (store.isCluster()) {
        throw new InvalidInputError(
          'KeyvSessionStore does not support Redis Cluster (its scripts touch keys in several slots): use one Redis server (or a Sentinel-managed primary)',
        );
      }
      this.driver = 'redis';
      this.#driver = new RedisDriver(keyv, store, prefix);
    } else if (isSqliteAdapter(store)) {
      this.driver = 'sqlite';
      this.#driver = new SqliteDriver(keyv, store, prefix, busyTimeoutMs);
    } else {
      this.driver = 'generic';
      this.#driver = new GenericDriver(keyv, prefix, writerLeaseMs);
    }
    this.multiProcess = this.driver !== 'generic';
    if (options.requireMultiProcess && !this.multiProcess) {
      throw new InvalidInputError(
        'requireMultiProcess: this Keyv adapter has no atomic operations KeyvSessionStore can use, so only one process may write through it. Use @keyv/redis or @keyv/sqlite.',
      );
    }
  }

  async load(sessionId: string): Promise<StoredSession | undefined> {
    assertSessionId(sessionId);
    return this.#driver.load(sessionId);
  }

  /**
   * The state and only the messages after `cursor` (see `SessionStore.loadSince`), from one
   * consistent read: SQLite one statement (a second one, reading the whole session, when the
   * cursor does not hold), Redis one script, generic one lock. With nothing new it reads the
   * session's epoch and count, no message. A cursor that does not hold (another epoch,
   * past the end, not a cursor) gets the whole history (`from: 0`). A session with a state names
   * its `stateVersion`; when the cursor's (same epoch) is still the stored one, the tail says
   * `stateUnchanged: true` and leaves the state out, which is then neither sent nor parsed.
   */
  async loadSince(sessionId: string, cursor?: HistoryCursor): Promise<StoredTail | undefined> {
    assertSessionId(sessionId);
    return this.#driver.loadSince(sessionId, checkedCursor(cursor));
  }

  /**
   * Appends the messages (see `SessionStore.append`). With an `idempotencyKey`, the result says
   * `replayed: true` when the session already held the key (nothing was written: `seq` is the one
   * that append got), `false` when these messages were stored.
   */
  async append(sessionId: string, messages: Message[], opts: AppendOptions = {}): Promise<AppendResult> {
    assertSessionId(sessionId);
    const json = encodeMessages(messages);
    const { idempotencyKey } = opts;
    checkIdempotencyKey(idempotencyKey);
    return this.#driver.append(sessionId, {
      // Copies, as JSON would store them: the caller may change its objects while this runs.
      messages: json.map((text) => JSON.parse(text) as Message),
      json,
      lastId: messages[messages.length - 1]?.id ?? '',
      idempotencyKey,
    });
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    assertSessionId(sessionId);
    const json = encodeState(state);
    await this.#driver.saveState(sessionId, state, json);
  }

  /**
   * Replaces the state with `update(current)` atomically (see `SessionStore.updateState`), across
   * processes with the redis and sqlite drivers: a compare-and-set (one script, one statement) that
   * writes only if the state read is still the one stored, retried otherwise (so `update` may run
   * more than once); the generic driver holds its session lock. The result is checked as
   * `saveState` checks a state; nothing is written when `update` throws or its result is refused.
   * Resolves to a copy of what was written.
   */
  async updateState(
    sessionId: string,
    update: (current: SessionState | undefined) => SessionState,
  ): Promise<SessionState> {
    assertSessionId(sessionId);
    if (typeof update !== 'function') throw new InvalidInputError('updateState expects an update function');
    const json = await this.#driver.updateState(sessionId, (current) => {
      const json = encodeState(update(current));
      return { state: JSON.parse(json) as SessionState, json };
    });
    return JSON.parse(json) as SessionState;
  }

  async *list(filter: ListFilter = {}): AsyncIterable<SessionSummary> {
    for await (const row of this.#driver.summaries()) {
      if (filter.userId !== undefined && row.userId !== filter.userId) continue;
      yield row;
    }
  }

  async delete(sessionId: string): Promise<void> {
    assertSessionId(sessionId);
    await this.#driver.delete(sessionId);
  }

  /**
   * Releases what this store holds (the generic driver's writer record, so another process may
   * write at once). Does not close the Keyv: that is the caller's.
   */
  async close(): Promise<void> {
    await this.#driver.close();
  }
}
