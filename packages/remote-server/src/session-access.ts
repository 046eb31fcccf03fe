import {
  type ChatModel,
  type KnowledgeBase,
  type MemoryStore,
  type Middleware,
  NotFoundError,
  Session,
  type SessionStore,
  type StoredSession,
} from '@sessions/core';
import { ANONYMOUS } from './bearer-auth.js';
import { KeyedMutex } from './keyed-mutex.js';

/** Gives the memory store of a session; called for each request that needs it (cache inside if costly). */
export type MemoryFactory = (sessionId: string) => MemoryStore | Promise<MemoryStore>;
/** Gives the knowledge base of a session; called for each request that needs it (cache inside if costly). */
export type KnowledgeFactory = (sessionId: string) => KnowledgeBase | Promise<KnowledgeBase>;

export interface SessionAccessOptions {
  store: SessionStore;
  model: ChatModel;
  memory?: MemoryFactory | undefined;
  knowledge?: KnowledgeFactory | undefined;
  middleware?: readonly Middleware[] | undefined;
  now?: (() => Date) | undefined;
}

export interface OpenOptions {
  /** Make the session (owned by the principal) when nothing is stored under its id. */
  create?: boolean;
  /** The id is new (generated here): nothing to load, nobody else can hold it. */
  fresh?: boolean;
  userId?: string | undefined;
  memory?: boolean;
  knowledge?: boolean;
  /** Run innermost-first around the configured middleware, for this request only. */
  middleware?: readonly Middleware[];
}

/** Who owns a stored session: its state's `metadata.owner`. */
export function ownerOf(stored: StoredSession): string | undefined {
  const owner = stored.state?.metadata?.owner;
  return typeof owner === 'string' ? owner : undefined;
}

/**
 * Opens sessions for principals. Each request gets its own core `Session`, built over the state and
 * history loaded for it (one `load` per request), so several server processes can share one store
 * without a cached history going stale. A session belongs to the principal that created it (its
 * stored `metadata.owner`); to everyone else it does not exist. A session with no owner (made
 * outside the server) belongs to `'anonymous'`, the principal of a server without auth.
 */
export class SessionAccess {
  readonly #options: SessionAccessOptions;
  readonly #locks = new KeyedMutex();
  readonly #loadedState = new WeakMap<Session, Record<string, unknown>>();

  constructor(options: SessionAccessOptions) {
    this.#options = options;
  }

  get memoryConfigured(): boolean {
    return this.#options.memory !== undefined;
  }

  get knowledgeConfigured(): boolean {
    return this.#options.knowledge !== undefined;
  }

  /**
   * The principal's session `sessionId`, loaded. Throws `NotFoundError` when it belongs to someone
   * else, or when nothing is stored under the id and `create` is not set. A created session is
   * claimed (its owner saved) before this resolves, under a per-id lock, so two creators in this
   * process cannot both own it.
   */
  async open(principal: string, sessionId: string, options: OpenOptions = {}): Promise<Session> {
    if (options.fresh) return this.#build(principal, sessionId, undefined, options);
    if (!options.create) return this.#open(principal, sessionId, options);
    return this.#locks.run(sessionId, () => this.#open(principal, sessionId, options));
  }

  /**
   * Opens (or creates) the principal's session and runs `change` on it under the session's lock, so
   * read-modify-write changes (state merges, increments) made through this process never interleave.
   */
  async update<T>(
    principal: string,
    sessionId: string,
    options: OpenOptions,
    change: (session: Session) => Promise<T>,
  ): Promise<T> {
    return this.#locks.run(sessionId, async () => change(await this.#open(principal, sessionId, options)));
  }

  /** The user state of a session opened here, as it was loaded (a copy). */
  loadedState(session: Session): Record<string, unknown> {
    return structuredClone(this.#loadedState.get(session) ?? {});
  }

  /** Removes the principal's session (and its memories, when memory is configured). */
  async delete(principal: string, sessionId: string): Promise<void> {
    const session = await this.open(principal, sessionId, { memory: this.memoryConfigured });
    // Every memory of the session, whichever user id it was added under.
    if (session.memory) await session.memory.clear({ sessionId });
    await this.#options.store.delete(sessionId);
  }

  #assertVisible(
    principal: string,
    sessionId: string,
    stored: StoredSession | undefined,
  ): asserts stored is StoredSession {
    const owner = stored && ownerOf(stored);
    if (!stored || (owner ?? ANONYMOUS) !== principal) {
      throw new NotFoundError(`Session "${sessionId}" not found`);
    }
  }

  async #open(principal: string, sessionId: string, options: OpenOptions): Promise<Session> {
    const stored = await this.#options.store.load(sessionId);
    if (stored || !options.create) {
      this.#assertVisible(principal, sessionId, stored);
      return this.#build(principal, sessionId, stored, options);
    }
    const session = await this.#build(principal, sessionId, undefined, options);
    await session.saveState({});
    return session;
  }

  async #build(
    principal: string,
    sessionId: string,
    stored: StoredSession | undefined,
    options: OpenOptions,
  ): Promise<Session> {
    const { store, model, middleware = [], now } = this.#options;
    const [memory, knowledge] = await Promise.all([
      options.memory && this.#options.memory ? this.#options.memory(sessionId) : undefined,
      options.knowledge && this.#options.knowledge ? this.#options.knowledge(sessionId) : undefined,
    ]);
    const session = new Session({
      sessionId,
      store: preloaded(store, sessionId, stored),
      model,
      middleware: [...(options.middleware ?? []), ...middleware],
      ...(options.userId !== undefined && { userId: options.userId }),
      ...(memory !== undefined && { memory }),
      ...(knowledge !== undefined && { knowledge }),
      // A new session is claimed by the principal; a stored one keeps its owner.
      ...(stored === undefined && { metadata: { owner: principal } }),
      ...(now !== undefined && { now }),
    });
    this.#loadedState.set(session, await session.restoreState());
    return session;
  }
}

/** `store`, except that the first load of `sessionId` answers what was already loaded. */
function preloaded(store: SessionStore, sessionId: string, stored: StoredSession | undefined): SessionStore {
  let pending = true;
  return {
    load: (id) => {
      if (pending && id === sessionId) {
        pending = false;
        return Promise.resolve(stored);
      }
      return store.load(id);
    },
    append: (id, messages, opts) => store.append(id, messages, opts),
    saveState: (id, state) => store.saveState(id, state),
    list: (filter) => store.list(filter),
    delete: (id) => store.delete(id),
  };
}
