import {
  type ChatModel,
  ConflictError,
  InvalidInputError,
  KeyedMutex,
  type KnowledgeBase,
  type MemoryStore,
  type Middleware,
  NotFoundError,
  Session,
  type SessionStore,
} from '@sessions/core';
import { LRUCache } from 'lru-cache';
import { ANONYMOUS } from './bearer-auth.js';
import { SessionView } from './session-view.js';

/** What the server tells a memory or knowledge factory about the session it asks for. */
export interface SessionFactoryContext {
  /**
   * The session's owner: the principal that created it (the principal of its bearer token), or
   * `'anonymous'` (`ANONYMOUS`) on a server without auth and for a session stored with no owner. A
   * factory is only asked once the session is known to be this principal's (or is being created
   * by it), never for a session another principal tried to reach.
   */
  principal: string;
}

/**
 * Gives the memory store of a session; called for each request that needs it (cache inside if
 * costly). A one-argument `(sessionId) => MemoryStore` is one too.
 */
export type MemoryFactory = (
  sessionId: string,
  context: SessionFactoryContext,
) => MemoryStore | Promise<MemoryStore>;
/**
 * Gives the knowledge base of a session; called for each request that needs it (cache inside if
 * costly). A one-argument `(sessionId) => KnowledgeBase` is one too.
 */
export type KnowledgeFactory = (
  sessionId: string,
  context: SessionFactoryContext,
) => KnowledgeBase | Promise<KnowledgeBase>;

/** Sessions kept alive between turns by default (see `AgentServerOptions.liveSessions`). */
export const DEFAULT_LIVE_SESSIONS = 1000;
/**
 * Messages the kept sessions may hold in all (each holds its history): the least recently used
 * are dropped beyond it, and a session with a longer history than this is not kept.
 */
export const MAX_LIVE_MESSAGES = 200_000;

export interface SessionAccessOptions {
  store: SessionStore;
  model: ChatModel;
  memory?: MemoryFactory | undefined;
  knowledge?: KnowledgeFactory | undefined;
  /** Every session's middleware, the first outermost. */
  middleware?: readonly Middleware[] | undefined;
  now?: (() => Date) | undefined;
  /** Most sessions kept alive for `live` opens; 0: none. Only used with a store that has `loadSince`. */
  liveSessions?: number | undefined;
  /** Most messages the kept sessions hold in all. Default `MAX_LIVE_MESSAGES`. */
  liveMessages?: number | undefined;
}

export interface OpenOptions {
  /** Make the session (owned by the principal) when nothing is stored under its id. */
  create?: boolean;
  /** The id is new (generated here): nothing to load, nobody else can hold it. */
  fresh?: boolean;
  userId?: string | undefined;
  memory?: boolean;
  knowledge?: boolean;
  /**
   * May answer a `Session` kept alive from an earlier request, caught up with the store
   * (`refresh()`), shared with concurrent requests: for turns. Otherwise the `Session` is this
   * request's own.
   */
  live?: boolean;
  /**
   * Called with each `Session` built for the request, once it is loaded and before a new one is
   * claimed: turns make their agent here, so the claim stores the agent too (one state write).
   */
  prepare?: ((session: Session) => void) | undefined;
}

/** A session kept alive between turns, with the ports it was built with. */
interface LiveSession {
  session: Session;
  view: SessionView;
  memory: MemoryStore | undefined;
  knowledge: KnowledgeBase | undefined;
}

/**
 * Opens sessions for principals. A session belongs to the principal that created it (its stored
 * `metadata.owner`); to everyone else it does not exist. A session with no owner (made outside the
 * server) belongs to `'anonymous'`, the principal of a server without auth.
 *
 * With a store that has `loadSince`, sessions opened for turns (`live`) are kept alive in a bounded
 * LRU: the next turn of the session reuses its `Session`, after `refresh()` has read from the store
 * only what other processes (or other `Session`s) wrote since, so a turn costs the same whatever
 * the length of the history, and several server processes can still share one store. Otherwise —
 * and for every other route — each request builds its own `Session` over one load of the store.
 */
export class SessionAccess {
  readonly #options: SessionAccessOptions;
  readonly #locks = new KeyedMutex();
  readonly #loadedState = new WeakMap<Session, Record<string, unknown>>();
  readonly #live: LRUCache<string, LiveSession> | undefined;

  constructor(options: SessionAccessOptions) {
    const max = options.liveSessions ?? DEFAULT_LIVE_SESSIONS;
    if (!Number.isInteger(max) || max < 0) {
      throw new InvalidInputError(`liveSessions must be a whole number, 0 or more, got ${max}`);
    }
    this.#options = options;
    if (max > 0 && typeof options.store.loadSince === 'function') {
      this.#live = new LRUCache({
        max,
        maxSize: options.liveMessages ?? MAX_LIVE_MESSAGES,
        sizeCalculation: (live) => Math.max(1, live.session.loadedHistory()?.length ?? 1),
      });
    }
  }

  get memoryConfigured(): boolean {
    return this.#options.memory !== undefined;
  }

  get knowledgeConfigured(): boolean {
    return this.#options.knowledge !== undefined;
  }

  /** Sessions kept alive now. */
  get liveCount(): number {
    return this.#live?.size ?? 0;
  }

  /**
   * The principal's session `sessionId`, loaded. Throws `NotFoundError` when it belongs to someone
   * else, or when nothing is stored under the id and `create` is not set. A created session is
   * claimed (its owner saved) before this resolves, under a per-id lock, so two creators in this
   * process cannot both own it.
   */
  open(principal: string, sessionId: string, options: OpenOptions = {}): Promise<Session> {
    // The hot path, a turn of a kept session: one read of the store (and, without memory and
    // knowledge, no other promise).
    const live = options.live && !options.fresh ? this.#live?.get(sessionId) : undefined;
    if (live === undefined) return this.#openWith(principal, sessionId, options);
    return live.session.refresh().then(() => {
      const reused = this.#reuse(principal, sessionId, options, live);
      if (reused instanceof Promise) {
        return reused.then((session) => session ?? this.#openWith(principal, sessionId, options, true));
      }
      return reused ?? this.#openWith(principal, sessionId, options, true);
    });
  }

  async #openWith(
    principal: string,
    sessionId: string,
    options: OpenOptions,
    liveTried = false,
  ): Promise<Session> {
    if (options.fresh) {
      // A new id: the principal creates (and owns) it.
      return this.#build(
        principal,
        sessionId,
        undefined,
        options,
        await this.#ports(sessionId, principal, options),
      );
    }
    if (options.live && !liveTried) {
      const session = await this.#openLive(principal, sessionId, options);
      if (session) return session;
    }
    if (!options.create) return this.#open(principal, sessionId, options);
    return this.#locks.run(sessionId, async () => {
      if (options.live) {
        const session = await this.#openLive(principal, sessionId, options);
        if (session) return session;
      }
      return this.#open(principal, sessionId, options);
    });
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
    return this.#locks.run(sessionId, async () =>
      change(await this.#open(principal, sessionId, { ...options, live: false })),
    );
  }

  /** The user state of a session opened here, as it was loaded (a copy). */
  loadedState(session: Session): Record<string, unknown> {
    return structuredClone(this.#loadedState.get(session) ?? {});
  }

  /** Removes the principal's session (and its memories, when memory is configured). */
  async delete(principal: string, sessionId: string): Promise<void> {
    const session = await this.open(principal, sessionId, { memory: this.memoryConfigured });
    this.#live?.delete(sessionId);
    // Every memory of the session, whichever user id it was added under.
    if (session.memory) await session.memory.clear({ sessionId });
    await this.#options.store.delete(sessionId);
    this.#live?.delete(sessionId);
  }

  #assertVisible(principal: string, sessionId: string, owner: string | undefined): void {
    if ((owner ?? ANONYMOUS) !== principal) throw new NotFoundError(`Session "${sessionId}" not found`);
  }

  /**
   * The memory store and knowledge base the request asked for, from the factories (no promise when
   * none), for a session `owner` owns: called only once that is known (or `owner` creates it).
   */
  #ports(sessionId: string, owner: string, options: OpenOptions): Ports | Promise<Ports> {
    const { memory, knowledge } = this.#options;
    const wantsMemory = options.memory === true && memory !== undefined;
    const wantsKnowledge = options.knowledge === true && knowledge !== undefined;
    if (!wantsMemory && !wantsKnowledge) return NO_PORTS;
    const context: SessionFactoryContext = { principal: owner };
    return Promise.all([
      wantsMemory ? memory(sessionId, context) : undefined,
      wantsKnowledge ? knowledge(sessionId, { ...context }) : undefined,
    ]).then(([memoryStore, knowledgeBase]) => ({ memory: memoryStore, knowledge: knowledgeBase }));
  }

  /**
   * A kept session just refreshed, when it serves this request with the ports the factories give
   * now: throws `NotFoundError` when it is someone else's (before any factory is asked);
   * `undefined` when it does not serve (see `#checkLive`) or was built with other ports.
   */
  #reuse(
    principal: string,
    sessionId: string,
    options: OpenOptions,
    live: LiveSession,
  ): Session | undefined | Promise<Session | undefined> {
    const session = this.#checkLive(principal, sessionId, options, live);
    if (session === undefined) return undefined;
    const ports = this.#ports(sessionId, principal, options);
    if (ports instanceof Promise) {
      return ports.then((resolved) => (this.#fits(sessionId, live, resolved) ? session : undefined));
    }
    return this.#fits(sessionId, live, ports) ? session : undefined;
  }

  /** Whether the kept session was built with these ports. */
  #fits(sessionId: string, live: LiveSession, ports: Ports): boolean {
    if (live.memory !== ports.memory || live.knowledge !== ports.knowledge) return false;
    // Its size (messages) grew with its last turns: count them again (unless it was dropped or
    // replaced while it refreshed).
    const kept = this.#live;
    if (kept?.peek(sessionId) === live) kept.set(sessionId, live);
    return true;
  }

  /**
   * A kept session just refreshed, when it serves this request: throws `NotFoundError` when it is
   * someone else's; `undefined` when nothing is stored any more (it is dropped) or the request
   * names another user (the caller then opens it the ordinary way, which may create it).
   */
  #checkLive(
    principal: string,
    sessionId: string,
    options: OpenOptions,
    live: LiveSession,
  ): Session | undefined {
    const found = live.view.found;
    if (found === undefined) {
      if (this.#live?.get(sessionId) === live) this.#live.delete(sessionId);
      return undefined;
    }
    this.#assertVisible(principal, sessionId, found.owner);
    if (options.userId !== undefined && options.userId !== live.session.userId) return undefined;
    return live.session;
  }

  /** The kept session of `sessionId`, refreshed, when it serves this request (see `#reuse`). */
  async #openLive(principal: string, sessionId: string, options: OpenOptions): Promise<Session | undefined> {
    const live = this.#live?.get(sessionId);
    if (live === undefined) return undefined;
    await live.session.refresh();
    return this.#reuse(principal, sessionId, options, live);
  }

  async #open(principal: string, sessionId: string, options: OpenOptions): Promise<Session> {
    const view = new SessionView(this.#options.store, sessionId);
    await view.loadStored();
    const found = view.found;
    if (found || !options.create) {
      if (!found) throw new NotFoundError(`Session "${sessionId}" not found`);
      this.#assertVisible(principal, sessionId, found.owner);
      return this.#build(
        principal,
        sessionId,
        view,
        options,
        await this.#ports(sessionId, principal, options),
      );
    }
    const ports = await this.#ports(sessionId, principal, options);
    const session = await this.#build(principal, sessionId, view, options, ports);
    await session.saveState({});
    return session;
  }

  /**
   * A `Session` over `view` (already loaded: its first load answers what was read), or over
   * nothing stored (`view` undefined: a fresh id). Kept alive when asked (unless fresh) and it fits
   * any request of the session that names no user: built without a user id, or with the one it
   * has stored.
   */
  async #build(
    principal: string,
    sessionId: string,
    loaded: SessionView | undefined,
    options: OpenOptions,
    ports: Ports,
  ): Promise<Session> {
    const { model, middleware = [], now } = this.#options;
    const view = loaded ?? new SessionView(this.#options.store, sessionId, { nothing: true });
    const stored = view.found !== undefined;
    const storedUser = view.storedUserId;
    // A session has one user: a request may name it, or name the user of a session it creates.
    if (stored && storedUser !== undefined && options.userId !== undefined && options.userId !== storedUser) {
      throw new ConflictError(
        `Session "${sessionId}" belongs to user ${JSON.stringify(storedUser)}: a turn may not name another user_id (${JSON.stringify(options.userId)}); start a new session for that user`,
      );
    }
    const userId = stored && storedUser !== undefined ? undefined : options.userId;
    const session = new Session({
      sessionId,
      store: view,
      model,
      middleware: [...middleware],
      ...(userId !== undefined && { userId }),
      ...(ports.memory !== undefined && { memory: ports.memory }),
      ...(ports.knowledge !== undefined && { knowledge: ports.knowledge }),
      // A new session is claimed by the principal; a stored one keeps its owner.
      ...(!stored && { metadata: { owner: principal } }),
      ...(now !== undefined && { now }),
    });
    // Turns (live opens) never ask for the state as loaded: only load it.
    if (options.live) await session.refresh();
    else this.#loadedState.set(session, await session.restoreState());
    options.prepare?.(session);
    // A fresh id is kept from its second turn on: most sessions made without an id get no second
    // turn, and their first load costs nothing (two messages).
    if (options.live && !options.fresh && this.#live && userId === undefined) {
      this.#live.set(sessionId, { session, view, memory: ports.memory, knowledge: ports.knowledge });
    }
    return session;
  }
}

interface Ports {
  memory: MemoryStore | undefined;
  knowledge: KnowledgeBase | undefined;
}

const NO_PORTS: Ports = { memory: undefined, knowledge: undefined };
