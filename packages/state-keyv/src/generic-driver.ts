import {
  type AppendResult,
  type HistoryCursor,
  type Message,
  SessionCorruptError,
  type SessionState,
  type SessionSummary,
  type StoredSession,
  type StoredTail,
} from '@sessions/core';
import type { Keyv } from 'keyv';
import { AdapterAccess } from './adapter-access.js';
import { processMutex } from './keyed-mutex.js';
import {
  type Batch,
  keyRoot,
  type NextState,
  newEpoch,
  newStateVersion,
  type StoreDriver,
  summaryOf,
  unknownEpoch,
  unlessDamaged,
} from './store-driver.js';
import { hashKey, seqPart, storedMessage, storedState } from './validate.js';
import { WriterLease } from './writer-lease.js';

/**
 * `{root}:{id}:head`: the session's committed message count and idempotency-key count, its epoch
 * (absent in heads written by versions before `loadSince`, until the next write), and the version
 * of its state (written before the state by each state write; absent in heads of versions before
 * state versions, until the next state write).
 */
interface Head {
  count: number;
  keys: number;
  epoch?: string;
  stateVersion?: string;
}

/** `{root}:{id}:idem:{hash}`: the seq an idempotency key got, and the id of that batch's last message. */
interface IdemRecord {
  seq: number;
  id: string;
}

interface SessionKeys {
  lock: string;
  head: string;
  state: string;
  msg(seq: number): string;
  idem(hash: string): string;
  key(n: number): string;
}

function isHead(value: unknown): value is Head {
  const h = value as Partial<Head> | null;
  return (
    typeof h === 'object' &&
    h !== null &&
    Number.isInteger(h.count) &&
    Number.isInteger(h.keys) &&
    (h.epoch === undefined || typeof h.epoch === 'string') &&
    (h.stateVersion === undefined || typeof h.stateVersion === 'string')
  );
}

/** A value `list` read that cannot be decoded (damaged), told apart from an absent one (`undefined`). */
const DAMAGED: unique symbol = Symbol('damaged');

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * Sessions on any Keyv adapter, with plain gets and sets: correct within one process (operations
 * on a session take a process-wide lock), and a writer lease refuses a second process on a shared
 * database (see `WriterLease`). The head record is the commit point of an append: messages are
 * written first, then the head, so a crash leaves no half-visible append.
 *
 * Keys: `{root}:{id}:head` (`{ count, keys, epoch, stateVersion }`), `{root}:{id}:msg:{seq, 10 digits}`, `{root}:{id}:state`,
 * `{root}:{id}:idem:{sha256(key)}`, `{root}:{id}:key:{n}` (the idempotency keys, to delete them);
 * `{root}:~index` (`{ count }`) and `{root}:~index:{n}` (session ids, in order of creation).
 */
export class GenericDriver implements StoreDriver {
  readonly #keyv: Keyv;
  readonly #prefix: string;
  readonly #io: AdapterAccess;
  readonly #lease: WriterLease | undefined;

  constructor(keyv: Keyv, prefix: string, leaseMs: number) {
    this.#keyv = keyv;
    this.#prefix = prefix;
    this.#io = new AdapterAccess(keyv);
    const leaseKey = (): string => `${keyRoot(keyv, prefix)}:~writer`;
    this.#lease =
      this.#io.inMemory || leaseMs <= 0
        ? undefined
        : new WriterLease(
            {
              read: () => this.#io.get(leaseKey()),
              write: (record) => this.#io.setMany([[leaseKey(), record]]),
              remove: () => this.#io.deleteMany([leaseKey()]),
            },
            leaseMs,
          );
  }

  /** Whether a writer lease guards this database (an adapter other than an in-memory `Map`). */
  get leased(): boolean {
    return this.#lease !== undefined;
  }

  async load(sessionId: string): Promise<StoredSession | undefined> {
    const keys = this.#keys(sessionId);
    return this.#locked(keys.lock, async () => {
      const [head, rawState] = await this.#io.getMany([keys.head, keys.state]);
      if (head === undefined && rawState === undefined) return undefined;
      const state = rawState === undefined ? undefined : storedState(rawState, keys.state);
      const count = this.#head(head, keys.head).count;
      return { state, messages: await this.#messages(keys, 0, count) };
    });
  }

  /**
   * Under the session's lock: the head and the state read together, the state decoded only when
   * the cursor does not name its version (under the same epoch), then the messages after `from`.
   */
  async loadSince(sessionId: string, cursor: HistoryCursor | undefined): Promise<StoredTail | undefined> {
    const keys = this.#keys(sessionId);
    return this.#locked(keys.lock, async () => {
      const [storedHead, storedValue] = await this.#io.getManyRaw([keys.head, keys.state]);
      const rawHead = await this.#io.decode(storedHead, keys.head);
      const hasState = storedValue !== undefined && storedValue !== null;
      if (rawHead === undefined && !hasState) return undefined;
      const head = this.#head(rawHead, keys.head);
      const held = cursor !== undefined && head.epoch !== undefined && cursor.epoch === head.epoch;
      const from = held && cursor.seq <= head.count ? cursor.seq : 0;
      const version = hasState ? head.stateVersion : undefined;
      const unchanged = held && version !== undefined && cursor.stateVersion === version;
      const state =
        !hasState || unchanged
          ? undefined
          : storedState(await this.#io.decode(storedValue, keys.state), keys.state);
      const messages = await this.#messages(keys, from, head.count);
      const tail: StoredTail = {
        state,
        messages,
        from,
        seq: head.count,
        epoch: head.epoch ?? unknownEpoch(),
      };
      if (version !== undefined) tail.stateVersion = version;
      if (unchanged) tail.stateUnchanged = true;
      return tail;
    });
  }

  async append(sessionId: string, batch: Batch): Promise<AppendResult> {
    const keys = this.#keys(sessionId);
    await this.#lease?.check();
    return this.#locked(keys.lock, async () => {
      const [rawHead, rawState] = await this.#io.getMany([keys.head, keys.state]);
      const head = this.#head(rawHead, keys.head);
      const { idempotencyKey } = batch;
      const hash = idempotencyKey === undefined ? undefined : hashKey(idempotencyKey);
      if (hash !== undefined) {
        const seq = await this.#recorded(keys, hash, head);
        if (seq !== undefined) return { seq, replayed: true };
      }
      const n = batch.messages.length;
      if (n === 0) return hash === undefined ? { seq: head.count } : { seq: head.count, replayed: false };
      if (rawHead === undefined && rawState === undefined) await this.#addToIndex(sessionId);
      const seq = head.count + n;
      const entries: Array<[string, unknown]> = batch.messages.map((message: Message, i) => [
        keys.msg(head.count + i + 1),
        message,
      ]);
      if (hash !== undefined) {
        entries.push([keys.idem(hash), { seq, id: batch.lastId } satisfies IdemRecord]);
        entries.push([keys.key(head.keys + 1), hash]);
      }
      await this.#io.setMany(entries);
      // The commit point: until the head says so, the messages above are invisible.
      const next: Head = { count: seq, keys: head.keys + (hash ? 1 : 0), epoch: head.epoch ?? newEpoch() };
      if (head.stateVersion !== undefined) next.stateVersion = head.stateVersion;
      await this.#io.setMany([[keys.head, next]]);
      return hash === undefined ? { seq } : { seq, replayed: false };
    });
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#lease?.check();
    await this.#locked(keys.lock, async () => {
      const [rawHead, old] = await this.#io.getMany([keys.head, keys.state]);
      await this.#writeState(sessionId, keys, rawHead, old, state);
    });
  }

  async updateState(sessionId: string, next: NextState): Promise<string> {
    const keys = this.#keys(sessionId);
    await this.#lease?.check();
    return this.#locked(keys.lock, async () => {
      const [rawHead, old] = await this.#io.getMany([keys.head, keys.state]);
      const { state, json } = next(old === undefined ? undefined : storedState(old, keys.state));
      await this.#writeState(sessionId, keys, rawHead, old, state);
      return json;
    });
  }

  /**
   * Writes the state of a session (under its lock), given its head and state as read: first the
   * head with a new state version (and an epoch, for a new session or one stored before epochs
   * were kept), then the state. Cut short between the two, the head names a new version of the
   * state still stored (answered with it from then on): a stored state is never under a version
   * that was answered with another state.
   */
  async #writeState(
    sessionId: string,
    keys: SessionKeys,
    rawHead: unknown,
    old: unknown,
    state: SessionState,
  ): Promise<void> {
    const head = this.#head(rawHead, keys.head);
    if (rawHead === undefined && old === undefined) await this.#addToIndex(sessionId);
    const next: Head = {
      count: head.count,
      keys: head.keys,
      epoch: head.epoch ?? newEpoch(),
      stateVersion: newStateVersion(),
    };
    await this.#io.setMany([[keys.head, next]]);
    await this.#io.setMany([[keys.state, state]]);
  }

  /**
   * The index, then per page of 250 sessions their heads and states in one read, then the last
   * messages the heads name in one more. Each value of a page is decoded on its own, so one
   * session's damaged head, state or last message (or a damaged index entry) leaves out only
   * what it held: the session is still listed, with what the rest tells.
   */
  async *summaries(): AsyncIterable<SessionSummary> {
    const root = keyRoot(this.#keyv, this.#prefix);
    const index = await this.#io.get(`${root}:~index`);
    const count = (index as { count?: unknown } | undefined)?.count;
    if (typeof count !== 'number') return;
    const listed: unknown[] = [];
    const indexKeys = range(1, count).map((n) => `${root}:~index:${n}`);
    for (let i = 0; i < indexKeys.length; i += 500) {
      listed.push(...(await this.#readPage(indexKeys.slice(i, i + 500))));
    }
    // A damaged index entry names no session: it is left out (the session, if any, is not listed).
    const ids = [...new Set(listed.filter((id): id is string => typeof id === 'string'))].sort();
    const rows: SessionSummary[] = [];
    for (let i = 0; i < ids.length; i += 250) {
      const part = ids.slice(i, i + 250);
      const values = await this.#readPage(part.flatMap((id) => [this.#keys(id).head, this.#keys(id).state]));
      // Each session's last message (the head names its key), all in one read: never the history.
      const lastKeys = part.map((id, j) => {
        const head = values[2 * j];
        return isHead(head) && head.count > 0 ? this.#keys(id).msg(head.count) : undefined;
      });
      const wanted = lastKeys.filter((key): key is string => key !== undefined);
      const lasts = new Map<string, unknown>();
      const read = wanted.length === 0 ? [] : await this.#readPage(wanted);
      for (const [k, key] of wanted.entries()) lasts.set(key, read[k]);
      for (const [j, id] of part.entries()) {
        const head = values[2 * j];
        const state = values[2 * j + 1];
        if (head === undefined && state === undefined) continue; // deleted
        const checked =
          state === undefined || state === DAMAGED
            ? undefined
            : await unlessDamaged(async () => storedState(state, this.#keys(id).state));
        const lastKey = lastKeys[j];
        rows.push(summaryOf(id, checked, lastKey === undefined ? undefined : lasts.get(lastKey)));
      }
    }
    yield* rows;
  }

  /**
   * The values of `keys` (at most 500) in one read, each decoded on its own: `undefined` when
   * absent, `DAMAGED` when it cannot be decoded (so that damage is told apart from absence).
   */
  async #readPage(keys: string[]): Promise<unknown[]> {
    const raws = await this.#io.getManyRaw(keys);
    return Promise.all(
      keys.map(async (key, i) => {
        const value = await unlessDamaged(async () => ({ value: await this.#io.decode(raws[i], key) }));
        return value === undefined ? DAMAGED : value.value;
      }),
    );
  }

  async delete(sessionId: string): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#lease?.check();
    await this.#locked(keys.lock, async () => {
      const rawHead = await this.#io.get(keys.head);
      const head = this.#head(rawHead, keys.head);
      const hashes = await this.#io.getMany(range(1, head.keys).map(keys.key));
      // Head and state first: from then on the session does not exist, whatever remains.
      await this.#io.deleteMany([keys.head, keys.state]);
      await this.#io.deleteMany([
        ...range(1, head.count).map(keys.msg),
        ...range(1, head.keys).map(keys.key),
        ...hashes.filter((hash): hash is string => typeof hash === 'string').map(keys.idem),
      ]);
    });
  }

  async close(): Promise<void> {
    await this.#lease?.release();
  }

  #keys(sessionId: string): SessionKeys {
    const root = keyRoot(this.#keyv, this.#prefix);
    const session = `${root}:${sessionId}`;
    return {
      lock: session,
      head: `${session}:head`,
      state: `${session}:state`,
      msg: (seq: number): string => `${session}:msg:${seqPart(seq)}`,
      idem: (hash: string): string => `${session}:idem:${hash}`,
      key: (n: number): string => `${session}:key:${n}`,
    };
  }

  /** Messages `from + 1` to `to`, read in `getMany`s of 500. */
  async #messages(keys: SessionKeys, from: number, to: number): Promise<Message[]> {
    const msgKeys = range(from + 1, to).map(keys.msg);
    if (msgKeys.length === 0) return [];
    const values = await this.#io.getMany(msgKeys);
    return values.map((value, i) => {
      if (value === undefined) {
        throw new SessionCorruptError(`Missing message at key "${msgKeys[i]}" (the head says ${to}).`, {
          file: msgKeys[i],
        });
      }
      return storedMessage(value, msgKeys[i]!);
    });
  }

  #head(value: unknown, key: string): Head {
    if (value === undefined) return { count: 0, keys: 0 };
    if (!isHead(value)) {
      throw new SessionCorruptError(`Corrupt session head at key "${key}": not { count, keys }.`, {
        file: key,
      });
    }
    return value;
  }

  /** The seq recorded for an idempotency key, if the record belongs to a committed append. */
  async #recorded(keys: SessionKeys, hash: string, head: Head): Promise<number | undefined> {
    const record = (await this.#io.get(keys.idem(hash))) as Partial<IdemRecord> | undefined;
    if (typeof record?.seq !== 'number' || record.seq > head.count || record.seq < 1) return undefined;
    // A record left by an append that crashed before its head was written names a seq that a later
    // append may have filled with other messages: it counts only if that message is the one it names.
    const last = (await this.#io.get(keys.msg(record.seq))) as Partial<Message> | undefined;
    return last?.id === record.id ? record.seq : undefined;
  }

  async #addToIndex(sessionId: string): Promise<void> {
    const root = keyRoot(this.#keyv, this.#prefix);
    await processMutex().run(`${root}:~index`, async () => {
      const index = await this.#io.get(`${root}:~index`);
      const count = (index as { count?: unknown } | undefined)?.count;
      const next = (typeof count === 'number' ? count : 0) + 1;
      await this.#io.setMany([[`${root}:~index:${next}`, sessionId]]);
      await this.#io.setMany([[`${root}:~index`, { count: next }]]);
    });
  }

  #locked<T>(key: string, task: () => Promise<T>): Promise<T> {
    return processMutex().run(key, task);
  }
}
