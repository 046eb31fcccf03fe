import type { Message } from './message.js';

/** The configuration of an agent made by `session.Agent(...)`, persisted with the session. */
export interface AgentConfig {
  name: string;
  role?: string;
  instructions?: string;
  memory?: boolean;
  knowledge?: boolean;
  tools?: string[];
}

/** Everything about a session except its history: kept in `state.json` by the file store. */
export interface SessionState {
  /** Format version of this record; readers refuse versions they do not know. */
  schemaVersion: 1;
  sessionId: string;
  userId: string;
  createdAt: string;
  updatedAt: string;
  /** The user's own key/value state (`saveState`, `setState`). */
  data: Record<string, unknown>;
  agents: AgentConfig[];
  metadata?: Record<string, unknown>;
}

/** What `SessionStore.load` returns: state (when ever saved) and the full history in order. */
export interface StoredSession {
  state: SessionState | undefined;
  messages: Message[];
}

/** One row of `SessionStore.list`. */
export interface SessionSummary {
  sessionId: string;
  userId: string | undefined;
  createdAt: string | undefined;
  /**
   * The time of the session's last change, as `Session.getContext()` answers it: the later of the
   * state's `updatedAt` and the last message's `createdAt` (a turn appends messages without
   * rewriting the state).
   */
  updatedAt: string | undefined;
}

export interface AppendOptions {
  /** A repeated append with the same key (per session) is not stored twice. */
  idempotencyKey?: string;
}

export interface AppendResult {
  /** How many messages the session holds after this append (its last message's 1-based position). */
  seq: number;
  /**
   * Optional, for appends with an `idempotencyKey`: `true` when the store already held the key and
   * kept that earlier append instead of these messages, `false` when it stored these. A store that
   * leaves it out makes the `Session` read the history back to tell (one more `loadSince`).
   */
  replayed?: boolean;
}

/** Where a caller's copy of a history ends: what `SessionStore.loadSince` continues from. */
export interface HistoryCursor {
  /** Messages the caller holds: the `seq` of the last one (0 when none). */
  seq: number;
  /** The `epoch` of the history those messages came from. */
  epoch: string;
  /**
   * Optional: the `stateVersion` of the state the caller holds (from an earlier `loadSince`). A
   * store that versions its states may then answer `stateUnchanged` instead of the same state again.
   */
  stateVersion?: string;
}

/** What `SessionStore.loadSince` returns: the state, and the history after a cursor. */
export interface StoredTail {
  state: SessionState | undefined;
  /** The messages after the first `from`, in order. */
  messages: Message[];
  /** Messages before `messages`: the cursor's `seq` when it still holds, else 0 (`messages` is the whole history). */
  from: number;
  /** Messages in the history: `from + messages.length`. */
  seq: number;
  /**
   * Names this history. It stays the same while the history only grows, and changes when the
   * session is deleted and its id used again: a cursor of another epoch never holds.
   */
  epoch: string;
  /** Optional: names the state answered (or kept), for the next cursor's `stateVersion`. */
  stateVersion?: string;
  /**
   * Set when the cursor's `stateVersion` (of the same epoch) is still the stored state's: `state`
   * is then left out (`undefined`), and the caller keeps the state it holds.
   */
  stateUnchanged?: boolean;
}

export interface ListFilter {
  userId?: string;
}

/** History and state of many sessions. Implementations must lose nothing under concurrent appends. */
export interface SessionStore {
  /** The session's state and history, or `undefined` when nothing was ever stored for it. */
  load(sessionId: string): Promise<StoredSession | undefined>;
  /** Appends messages at the end of the history, durably, before resolving. */
  append(sessionId: string, messages: Message[], opts?: AppendOptions): Promise<AppendResult>;
  /** Replaces the session's state. */
  saveState(sessionId: string, state: SessionState): Promise<void>;
  list(filter?: ListFilter): AsyncIterable<SessionSummary>;
  /** Removes the session; deleting an unknown session is not an error. */
  delete(sessionId: string): Promise<void>;
  /**
   * Optional: the state and only the messages after `cursor`, or `undefined` when nothing is
   * stored (as `load`). The tail continues the cursor (`from === cursor.seq`) when the history is
   * still of `cursor.epoch` and holds at least `cursor.seq` messages; otherwise it is the whole
   * history (`from === 0`). Without a cursor, the whole history. A store that has it lets a
   * long-lived `Session` catch up with turns written elsewhere (`session.refresh()`) without
   * reading the whole history again; it must cost about as little as the tail it returns.
   */
  loadSince?(sessionId: string, cursor?: HistoryCursor): Promise<StoredTail | undefined>;
  /**
   * Optional: replaces the session's state with `update(current)` atomically — no other write of
   * its state lands between the read and the write (across processes, for a store shared by
   * several) — and returns what was written. `current` is `undefined` when no state is stored.
   * `update` is synchronous, may be called more than once, and nothing is written when it throws.
   * A `Session` writes its state with it when the store has it; otherwise it reads the state,
   * applies its changes and `saveState`s, one write at a time per session within its process only.
   */
  updateState?(
    sessionId: string,
    update: (current: SessionState | undefined) => SessionState,
  ): Promise<SessionState>;
}
