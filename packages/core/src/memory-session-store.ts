import { assertSessionId } from './ids.js';
import type { Message } from './message.js';
import type {
  AppendOptions,
  AppendResult,
  ListFilter,
  SessionState,
  SessionStore,
  SessionSummary,
  StoredSession,
} from './session-store.js';

interface Entry {
  state: SessionState | undefined;
  messages: Message[];
  keys: Map<string, number>;
}

/** A `SessionStore` in this process's memory: for tests and ephemeral use. Nothing persists. */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, Entry>();

  async load(sessionId: string): Promise<StoredSession | undefined> {
    assertSessionId(sessionId);
    const entry = this.#sessions.get(sessionId);
    if (!entry) return undefined;
    return structuredClone({ state: entry.state, messages: entry.messages });
  }

  async append(sessionId: string, messages: Message[], opts: AppendOptions = {}): Promise<AppendResult> {
    assertSessionId(sessionId);
    const entry = this.#entry(sessionId);
    const { idempotencyKey } = opts;
    if (idempotencyKey !== undefined) {
      const seq = entry.keys.get(idempotencyKey);
      if (seq !== undefined) return { seq };
    }
    entry.messages.push(...structuredClone(messages));
    const seq = entry.messages.length;
    if (idempotencyKey !== undefined) entry.keys.set(idempotencyKey, seq);
    return { seq };
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    assertSessionId(sessionId);
    this.#entry(sessionId).state = structuredClone(state);
  }

  async *list(filter: ListFilter = {}): AsyncIterable<SessionSummary> {
    for (const [sessionId, { state }] of [...this.#sessions]) {
      if (filter.userId !== undefined && state?.userId !== filter.userId) continue;
      yield { sessionId, userId: state?.userId, createdAt: state?.createdAt, updatedAt: state?.updatedAt };
    }
  }

  async delete(sessionId: string): Promise<void> {
    assertSessionId(sessionId);
    this.#sessions.delete(sessionId);
  }

  #entry(sessionId: string): Entry {
    let entry = this.#sessions.get(sessionId);
    if (!entry) {
      entry = { state: undefined, messages: [], keys: new Map() };
      this.#sessions.set(sessionId, entry);
    }
    return entry;
  }
}
