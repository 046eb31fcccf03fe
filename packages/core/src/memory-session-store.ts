import { copyData } from './copy-data.js';
import { assertSessionId } from './ids.js';
import { copyJsonValue } from './json-value.js';
import type { Message } from './message.js';
import type {
  AppendOptions,
  AppendResult,
  HistoryCursor,
  ListFilter,
  SessionState,
  SessionStore,
  SessionSummary,
  StoredSession,
  StoredTail,
} from './session-store.js';
import { assertSessionState, lastChange } from './state-json.js';

interface Entry {
  state: SessionState | undefined;
  messages: Message[];
  keys: Map<string, number>;
  /** Names this entry's history: a session deleted and made again gets another. */
  epoch: string;
  /** Names the state: another one for each state written. */
  stateVersion: string;
}

/** Epochs and state versions are unique in this process, across stores. */
let epochs = 0;
let stateVersions = 0;

/** A `SessionStore` in this process's memory: for tests and ephemeral use. Nothing persists. */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, Entry>();

  async load(sessionId: string): Promise<StoredSession | undefined> {
    assertSessionId(sessionId);
    const entry = this.#sessions.get(sessionId);
    if (!entry) return undefined;
    return { state: copyData(entry.state), messages: copyData(entry.messages) };
  }

  /** The state and the messages after `cursor` (see `SessionStore.loadSince`): copies of what is kept. */
  async loadSince(sessionId: string, cursor?: HistoryCursor): Promise<StoredTail | undefined> {
    assertSessionId(sessionId);
    const entry = this.#sessions.get(sessionId);
    if (!entry) return undefined;
    const seq = entry.messages.length;
    const from =
      cursor !== undefined &&
      cursor.epoch === entry.epoch &&
      Number.isInteger(cursor.seq) &&
      cursor.seq >= 0 &&
      cursor.seq <= seq
        ? cursor.seq
        : 0;
    const messages = from === seq ? [] : copyData(from === 0 ? entry.messages : entry.messages.slice(from));
    const { epoch, stateVersion, state } = entry;
    if (state === undefined) return { state, messages, from, seq, epoch };
    if (cursor?.stateVersion === stateVersion && cursor.epoch === epoch) {
      return { state: undefined, stateUnchanged: true, messages, from, seq, epoch, stateVersion };
    }
    return { state: copyData(state), messages, from, seq, epoch, stateVersion };
  }

  async append(sessionId: string, messages: Message[], opts: AppendOptions = {}): Promise<AppendResult> {
    assertSessionId(sessionId);
    const { idempotencyKey } = opts;
    if (idempotencyKey !== undefined) {
      const seq = this.#sessions.get(sessionId)?.keys.get(idempotencyKey);
      if (seq !== undefined) return { seq, replayed: true };
    }
    const copies = copyData(messages);
    const entry = this.#entry(sessionId);
    for (const message of copies) entry.messages.push(message);
    const seq = entry.messages.length;
    if (idempotencyKey === undefined) return { seq };
    entry.keys.set(idempotencyKey, seq);
    return { seq, replayed: false };
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    assertSessionId(sessionId);
    this.#keep(sessionId, checkedCopy(state));
  }

  /** Replaces the state with `update(current)` (see `SessionStore.updateState`): nothing runs in between. */
  async updateState(
    sessionId: string,
    update: (current: SessionState | undefined) => SessionState,
  ): Promise<SessionState> {
    assertSessionId(sessionId);
    const next = checkedCopy(update(copyData(this.#sessions.get(sessionId)?.state)));
    this.#keep(sessionId, next);
    return copyData(next);
  }

  async *list(filter: ListFilter = {}): AsyncIterable<SessionSummary> {
    for (const [sessionId, { state, messages }] of [...this.#sessions]) {
      if (filter.userId !== undefined && state?.userId !== filter.userId) continue;
      const updatedAt = lastChange(state?.updatedAt, messages.at(-1)?.createdAt);
      yield { sessionId, userId: state?.userId, createdAt: state?.createdAt, updatedAt };
    }
  }

  async delete(sessionId: string): Promise<void> {
    assertSessionId(sessionId);
    this.#sessions.delete(sessionId);
  }

  /** Keeps `state` (a copy already) as the session's, under a new version. */
  #keep(sessionId: string, state: SessionState): void {
    const entry = this.#entry(sessionId);
    entry.state = state;
    entry.stateVersion = `v${++stateVersions}`;
  }

  #entry(sessionId: string): Entry {
    let entry = this.#sessions.get(sessionId);
    if (!entry) {
      epochs += 1;
      entry = { state: undefined, messages: [], keys: new Map(), epoch: `m${epochs}`, stateVersion: '' };
      this.#sessions.set(sessionId, entry);
    }
    return entry;
  }
}

/**
 * A copy of a state to keep, refused as the persistent stores refuse it (`encodeSessionState`'s
 * rule): not an object, another schemaVersion, not JSON as it is. The copy is what JSON would give
 * back (`undefined` properties left out), so this store keeps what they keep.
 */
function checkedCopy(state: SessionState): SessionState {
  assertSessionState(state);
  return copyJsonValue(state, 'state');
}
