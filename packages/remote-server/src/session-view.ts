import type {
  AppendOptions,
  AppendResult,
  HistoryCursor,
  ListFilter,
  Message,
  SessionState,
  SessionStore,
  SessionSummary,
  StoredSession,
  StoredTail,
} from '@sessions/core';

/** What the last read (or write) of the session showed: that it is stored, and its owner. */
export interface Found {
  owner: string | undefined;
}

function ownerOfState(state: SessionState | undefined): string | undefined {
  const owner = state?.metadata?.owner;
  return typeof owner === 'string' ? owner : undefined;
}

/**
 * The server's store as one `Session` sees it: every call goes to the store, and what the session's
 * loads and saves show is noted (`found`, `storedUserId`), so the server checks who owns a live
 * session after its `refresh()` without another read. The first load of the session answers what
 * the server already read (`loadStored()`), or nothing for an id the server just made.
 */
export class SessionView implements SessionStore {
  readonly store: SessionStore;
  readonly sessionId: string;
  /** `undefined` when the last read found nothing stored (or the session was deleted here). */
  found: Found | undefined;
  /** The user id of the stored state, as last read or written. */
  storedUserId: string | undefined;
  loadSince?: (sessionId: string, cursor?: HistoryCursor) => Promise<StoredTail | undefined>;
  updateState?: (
    sessionId: string,
    update: (current: SessionState | undefined) => SessionState,
  ) => Promise<SessionState>;
  #first: { value: StoredTail | StoredSession | undefined } | undefined;

  constructor(store: SessionStore, sessionId: string, preset?: { nothing: true }) {
    this.store = store;
    this.sessionId = sessionId;
    if (preset?.nothing) this.#first = { value: undefined };
    const loadSince = store.loadSince;
    if (typeof loadSince === 'function') {
      const see = (tail: StoredTail | undefined): StoredTail | undefined => {
        this.#see(tail);
        return tail;
      };
      this.loadSince = (id, cursor) => {
        const first = this.#takeFirst(id);
        if (first) return Promise.resolve(see(first.value as StoredTail | undefined));
        const tail = loadSince.call(store, id, cursor);
        return id === this.sessionId ? tail.then(see) : tail;
      };
    }
    const updateState = store.updateState;
    if (typeof updateState === 'function') {
      this.updateState = async (id, update) => {
        const state = await updateState.call(store, id, update);
        if (id === this.sessionId) this.#saw(state);
        return state;
      };
    }
  }

  /** Reads the session (the whole of it), notes what it found, and keeps it for the session's first load. */
  async loadStored(): Promise<StoredSession | undefined> {
    const value =
      typeof this.store.loadSince === 'function'
        ? await this.store.loadSince(this.sessionId)
        : await this.store.load(this.sessionId);
    this.#first = { value };
    this.#see(value);
    return value;
  }

  async load(sessionId: string): Promise<StoredSession | undefined> {
    const first = this.#takeFirst(sessionId);
    const stored = first ? first.value : await this.store.load(sessionId);
    if (sessionId === this.sessionId) this.#see(stored);
    return stored;
  }

  append(sessionId: string, messages: Message[], opts?: AppendOptions): Promise<AppendResult> {
    // What is stored is read again before every turn of a live session: no need to note it here.
    return this.store.append(sessionId, messages, opts);
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    await this.store.saveState(sessionId, state);
    if (sessionId === this.sessionId) this.#saw(state);
  }

  /** Notes a state this session wrote. */
  #saw(state: SessionState): void {
    this.found = { owner: ownerOfState(state) };
    this.storedUserId = state.userId;
  }

  list(filter?: ListFilter): AsyncIterable<SessionSummary> {
    return this.store.list(filter);
  }

  async delete(sessionId: string): Promise<void> {
    await this.store.delete(sessionId);
    if (sessionId === this.sessionId) {
      this.found = undefined;
      this.storedUserId = undefined;
    }
  }

  #takeFirst(sessionId: string): { value: StoredTail | StoredSession | undefined } | undefined {
    const first = this.#first;
    if (first === undefined || sessionId !== this.sessionId) return undefined;
    this.#first = undefined;
    return first;
  }

  #see(stored: StoredSession | StoredTail | undefined): void {
    // The state is the one seen last (the store answered by its version): the same owner.
    if (stored !== undefined && 'stateUnchanged' in stored && stored.stateUnchanged === true) return;
    if (stored === undefined) {
      this.found = undefined;
      this.storedUserId = undefined;
      return;
    }
    this.found = { owner: ownerOfState(stored.state) };
    this.storedUserId = stored.state?.userId;
  }
}
