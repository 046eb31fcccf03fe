import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AppendResult,
  type HistoryCursor,
  lastChange,
  type Message,
  newId,
  SessionCorruptError,
  type SessionState,
  type SessionSummary,
  SessionsError,
  type StoredSession,
  type StoredTail,
  TimeoutError,
} from '@sessions/core';
import type { Keyv } from 'keyv';
import { messageTime } from './validate.js';

/** What the store hands a driver for one `append`, already checked. */
export interface Batch {
  messages: Message[];
  /** Each message as JSON (`JSON.stringify`). */
  json: string[];
  /** The id of the last message (the generic driver checks its idempotency records with it). */
  lastId: string;
  idempotencyKey: string | undefined;
}

/** The summary kept in a session index, from the state's fields. */
export interface IndexEntry {
  userId?: string;
  createdAt?: string;
  updatedAt?: string;
  /**
   * The version of the state stored with this entry (redis and sqlite drivers). Every state write
   * rewrites the entry, so a write by a version of this package that knows no state versions
   * drops it: the state is then answered whole, never taken as unchanged.
   */
  stateVersion?: string;
}

/**
 * The state an `updateState` writes, from the state stored (`undefined`: none): the caller's
 * `update` applied and checked. Throws what `update` throws, or `InvalidInputError`.
 */
export type NextState = (current: SessionState | undefined) => { state: SessionState; json: string };

/** How one kind of backend stores sessions. Inputs are checked by the store before a driver sees them. */
export interface StoreDriver {
  load(sessionId: string): Promise<StoredSession | undefined>;
  /**
   * `SessionStore.loadSince`, with a cursor already checked (`undefined` when there is none or it
   * is not one). A tail of a session with a state names its version (`stateVersion`) when the
   * store knows one, and leaves the state out (`stateUnchanged: true`) when the cursor's epoch and
   * `stateVersion` are still the session's.
   */
  loadSince(sessionId: string, cursor: HistoryCursor | undefined): Promise<StoredTail | undefined>;
  /**
   * Resolves the session's message count after the append (or the one recorded for its
   * idempotency key), with `replayed` for a keyed batch: `true` when the key was recorded before
   * and nothing was written.
   */
  append(sessionId: string, batch: Batch): Promise<AppendResult>;
  saveState(sessionId: string, state: SessionState, json: string): Promise<void>;
  /**
   * `SessionStore.updateState`: writes `next(current)` with no other write of the state in
   * between (across processes for the redis and sqlite drivers); resolves the JSON written.
   */
  updateState(sessionId: string, next: NextState): Promise<string>;
  /** Every session, sorted by id, unfiltered. */
  summaries(): AsyncIterable<SessionSummary>;
  delete(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A new epoch: names one history of a session, written when the session is made (its first append
 * or state) and removed with it, so a session deleted and made again gets another.
 */
export function newEpoch(): string {
  return newId();
}

/**
 * A new state version: written with every state (`saveState`, `updateState`), in the same atomic
 * write. Random (128 bits), so versions written by different processes never meet, and a version
 * a caller holds names the one state it was answered with.
 */
export function newStateVersion(): string {
  return newId();
}

/**
 * The epoch answered for a session stored before epochs were kept (or whose epoch an older version
 * of this package dropped): a new one at every read, so no cursor holds and every tail is the whole
 * history, until the next write gives the session an epoch.
 */
export function unknownEpoch(): string {
  return newId('unknown');
}

/** The cursor `loadSince` was given, if it is one; anything else reads as no cursor (the whole history). */
export function checkedCursor(cursor: unknown): HistoryCursor | undefined {
  const c = cursor as Partial<HistoryCursor> | null | undefined;
  if (typeof c !== 'object' || c === null) return undefined;
  if (typeof c.epoch !== 'string' || !Number.isSafeInteger(c.seq) || (c.seq as number) < 0) return undefined;
  const checked: HistoryCursor = { seq: c.seq as number, epoch: c.epoch };
  if (typeof c.stateVersion === 'string' && c.stateVersion !== '') checked.stateVersion = c.stateVersion;
  return checked;
}

/** The index entry of a state, with the version written with it (redis and sqlite drivers keep it there). */
export function indexEntry(state: SessionState, stateVersion?: string): IndexEntry {
  const entry: IndexEntry = { userId: state.userId, createdAt: state.createdAt, updatedAt: state.updatedAt };
  if (stateVersion !== undefined) entry.stateVersion = stateVersion;
  return entry;
}

/**
 * A session's summary, from its index entry (or state) and its last message as read (`undefined`
 * when it has none, or it could not be read). `updatedAt` is the time of the session's last change,
 * as `Session.getContext()` answers it: the later of the state's `updatedAt` and the last message's
 * `createdAt` (a turn appends messages without rewriting the state). A last message that is not a
 * message (damaged) is left out: the state's `updatedAt` is answered. An entry that could not be
 * read (`undefined`) or is not an object (damaged) gives no `userId`, `createdAt` or state time,
 * and so does each of its fields that is not a string: one session's damage never fails `list`.
 */
export function summaryOf(sessionId: string, entry: unknown, lastMessage?: unknown): SessionSummary {
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const fields: Partial<IndexEntry> =
    typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as IndexEntry) : {};
  return {
    sessionId,
    userId: text(fields.userId),
    createdAt: text(fields.createdAt),
    updatedAt: lastChange(text(fields.updatedAt), messageTime(lastMessage)),
  };
}

/**
 * The start of every key of the store, as Keyv itself would prefix it: `{namespace}:{prefix}`
 * (just `{prefix}` when the Keyv has no namespace or `useKeyPrefix: false`). Read at each call, so
 * a namespace changed later is followed.
 */
export function keyRoot(keyv: Keyv, prefix: string): string {
  const namespace = keyv.useKeyPrefix === false ? undefined : keyv.namespace;
  return namespace ? `${namespace}:${prefix}` : prefix;
}

/**
 * Values in Keyv's own stored format (`keyv.serializeData`: `{"value":...}` by default, compressed
 * if the Keyv compresses), so `keyv.get(key)` reads what this store wrote.
 */
export class KeyvCodec {
  readonly #keyv: Keyv;

  constructor(keyv: Keyv) {
    this.#keyv = keyv;
  }

  /** The stored form of `value`: what Keyv's `set` would hand its adapter (with no expiry). */
  async encode(value: unknown): Promise<unknown> {
    return this.#keyv.serializeData({ value, expires: undefined });
  }

  /** `encode`, when the adapter needs text. */
  async encodeText(value: unknown): Promise<string> {
    const encoded = await this.encode(value);
    return typeof encoded === 'string' ? encoded : JSON.stringify({ value });
  }

  /** The value of a stored entry (`undefined` when absent); `SessionCorruptError` naming the key when it cannot be read. */
  async decode(raw: unknown, key: string): Promise<unknown> {
    if (raw === undefined || raw === null) return undefined;
    let data: unknown;
    try {
      data = typeof raw === 'string' ? await this.#keyv.deserializeData(raw) : raw;
    } catch (cause) {
      throw new SessionCorruptError(`Corrupt value at key "${key}": Keyv cannot deserialize it.`, {
        file: key,
        cause,
      });
    }
    if (typeof data !== 'object' || data === null || !('value' in data)) {
      throw new SessionCorruptError(`Corrupt value at key "${key}": not a Keyv entry ({ value }).`, {
        file: key,
      });
    }
    return (data as { value: unknown }).value;
  }
}

/**
 * Runs `attempt` (a read, then a write only if the value read is still there: a compare-and-set)
 * until it writes, with a short random pause after each lost race. Each lost race means another
 * write landed, so this ends unless writes keep winning for `timeoutMs` (`TimeoutError`).
 */
export async function untilWritten<T>(
  attempt: () => Promise<{ written: true; value: T } | { written: false }>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let lost = 0; ; lost++) {
    const outcome = await attempt();
    if (outcome.written) return outcome.value;
    if (Date.now() >= deadline) {
      throw new TimeoutError(`${what}: other writes kept changing the state for ${timeoutMs} ms`);
    }
    await sleep(Math.random() * Math.min(2 ** lost, 50));
  }
}

/**
 * What `read` answers, or `undefined` when it finds the data damaged (`session_corrupt`): for what
 * `list` reads of one session (its index entry or state, its last message), whose damage must not
 * make it fail.
 */
export async function unlessDamaged<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (SessionsError.is(error) && error.code === 'session_corrupt') return undefined;
    throw error;
  }
}
