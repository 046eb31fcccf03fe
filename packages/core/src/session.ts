import { Agent, type AgentOptions } from './agent.js';
import { coversAgentConfig, overlayAgentConfig, sameAgentConfig } from './agent-config.js';
import type { ChatModel } from './chat-model.js';
import { copyData } from './copy-data.js';
import { InvalidInputError, NotConfiguredError, SessionsError } from './errors.js';
import { assertSessionId, newId } from './ids.js';
import { isoTime } from './iso-time.js';
import { copyJsonValue } from './json-value.js';
import { KeyedMutex } from './keyed-mutex.js';
import type {
  KnowledgeAddOptions,
  KnowledgeBase,
  KnowledgeDocument,
  KnowledgeHit,
  KnowledgeSource,
} from './knowledge-base.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { MemoryHit, MemoryRecord, MemoryStore, Scope } from './memory-store.js';
import type { Message } from './message.js';
import type { Middleware } from './middleware.js';
import type {
  AgentConfig,
  AppendResult,
  HistoryCursor,
  SessionState,
  SessionStore,
  StoredSession,
  StoredTail,
} from './session-store.js';
import { lastChange } from './state-json.js';
import { estimateTokens } from './tokens.js';

export interface SessionOptions {
  /** Generated when absent. 1-128 characters from [A-Za-z0-9._-]. */
  sessionId?: string;
  /** Defaults to the stored session's user, else `'default_user'`. */
  userId?: string;
  /** Where history and state live. Defaults to a `MemorySessionStore`: nothing persists. */
  store?: SessionStore;
  model?: ChatModel;
  memory?: MemoryStore;
  knowledge?: KnowledgeBase;
  /** Run around every turn, the first outermost. */
  middleware?: Middleware[];
  /** Host metadata kept in the stored state (the server keeps a session's owner here); merged over what is stored. */
  metadata?: Record<string, unknown>;
  /** Injectable clock, for tests. */
  now?: () => Date;
}

/** Memory kinds of the reference docs, kept in a memory's `metadata.type`. */
export type MemoryType = 'short' | 'long';

export interface AddMemoryOptions {
  /** Default `'long'`. */
  type?: MemoryType;
  metadata?: Record<string, unknown>;
  /** `'session'` (default): this session only; `'user'`: every session of this user. */
  scope?: 'session' | 'user';
}

export interface SearchMemoryOptions {
  /** Default 5. */
  limit?: number;
  type?: MemoryType;
  minScore?: number;
}

export interface SearchKnowledgeOptions {
  /** Default 5. */
  limit?: number;
}

export interface BuildContextOptions {
  /** Most memories and most knowledge passages each. Default 5. */
  maxItems?: number;
  /** Rough token budget of the whole text. Default 1,500. */
  maxTokens?: number;
  memory?: boolean;
  knowledge?: boolean;
  /**
   * When the memory search finds nothing (a question like "What do you know about me?"), the most
   * recent memories of the session and its user instead (at most `maxItems`, within the same
   * budget), as "Recent memories". Default `false`; agents with `memory: true` ask for it.
   */
  recentMemories?: boolean;
}

/** What `getContext()` returns. */
export interface SessionContext {
  sessionId: string;
  userId: string;
  createdAt: string;
  updatedAt: string;
  messageCount: number;
  agents: string[];
}

const DEFAULT_USER = 'default_user';

function assertMemoryType(type: unknown): void {
  if (type !== undefined && type !== 'short' && type !== 'long') {
    throw new InvalidInputError(`Invalid memory type ${JSON.stringify(type)}: use 'short' or 'long'`);
  }
}

/** A change of the user state made by one `Session`, applied over the stored state when written. */
type StateChange =
  | { key: string; value: unknown }
  | { key: string; by: number; from: number; result?: number; error?: InvalidInputError };

/**
 * Applies `change` to `data` (a value `undefined` removes the key); an increment notes its result,
 * or its error (and changes nothing).
 */
function applyChange(data: Record<string, unknown>, change: StateChange): void {
  if ('value' in change) {
    if (change.value === undefined) delete data[change.key];
    else data[change.key] = change.value;
    return;
  }
  const current = data[change.key] ?? change.from;
  if (typeof current !== 'number') {
    change.error = new InvalidInputError(
      `State "${change.key}" holds ${typeof current}, not a number: cannot increment it`,
    );
    return;
  }
  const result = current + change.by;
  if (!Number.isFinite(result)) {
    change.error = new InvalidInputError(
      `State "${change.key}" would be ${result} (${current} + ${change.by}): state values must be finite numbers`,
    );
    return;
  }
  change.error = undefined;
  change.result = result;
  data[change.key] = result;
}

/** A state value to keep: a copy, `InvalidInputError` naming `key` unless it is JSON (`undefined`: remove the key). */
function stateValue(key: string, value: unknown): unknown {
  return value === undefined ? undefined : copyJsonValue(value, 'state value', [key]);
}

function assertStateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidInputError('A state key is a string');
}

/**
 * Serialises the state writes of each session id within this process. By id alone, not per store:
 * hosts hand each `Session` its own view of one store (as the remote server does).
 */
const stateWrites = new KeyedMutex();

/**
 * A conversation that survives restarts: its history, its user state, its agents, and the memory
 * and knowledge its agents draw on. Every agent made by one session shares all of these.
 */
export class Session {
  readonly sessionId: string;
  readonly store: SessionStore;
  readonly model: ChatModel | undefined;
  readonly memory: MemoryStore | undefined;
  readonly knowledge: KnowledgeBase | undefined;
  readonly middleware: readonly Middleware[];
  readonly now: () => Date;

  #userId: string;
  readonly #userIdGiven: boolean;
  #createdAt: string;
  #updatedAt: string;
  #data: Record<string, unknown> = {};
  #metadata: Record<string, unknown>;
  readonly #metadataGiven: Record<string, unknown>;
  #messages: Message[] = [];
  /** `#costs[i]`: the rough tokens of the first `i` messages of `#costsOf` (see `windowStart`). */
  #costs: number[] = [0];
  #costsOf: Message[] = this.#messages;
  /** Where in `#repliesOf` the reply of each turn id is (`metadata.turnId`), its first `#repliesSeen` messages read. */
  #replies = new Map<string, number>();
  #repliesOf: Message[] = this.#messages;
  #repliesSeen = 0;
  /** The configuration of each agent: the stored one with what this object's `Agent()` calls gave over it. */
  readonly #agents = new Map<string, AgentConfig>();
  /** What this object's `Agent()` calls gave, per agent name (later calls over earlier ones). */
  readonly #agentsGiven = new Map<string, AgentConfig>();
  #loading: Promise<void> | undefined;
  /** The last load started has finished: the history and state are in (no need to wait on `#loading`). */
  #ready = false;
  #loads = 0;
  #stateSaved = false;
  #stateDirty = false;
  /** Changes of the user state not yet written: written over the stored state, not over this copy. */
  #changes: StateChange[] = [];
  /** Agents registered or changed here since the state was last written. */
  #agentsChanged = new Set<string>();
  /**
   * With a store that has `loadSince`: where `#messages` ends in the store's history (its length
   * and the history's epoch), so `refresh()` loads only what came after.
   */
  #cursor: HistoryCursor | undefined;
  /** The store holds turns this object has not loaded (an append landed after others' turns). */
  #behind = false;
  /** The store's `stateVersion` of the state held here, when it gave one and nothing was written since. */
  #stateVersion: string | undefined;
  /** The `refresh()` read of the store in flight, and the one the calls made meanwhile share. */
  #refreshing: Promise<void> | undefined;
  #refreshNext: Promise<void> | undefined;
  /**
   * Counts the states taken in other than by a `refresh()` read (written here, loaded whole): a
   * read begun before one may answer an older state than the one held.
   */
  #statesTaken = 0;

  constructor(options: SessionOptions = {}) {
    const sessionId = options.sessionId ?? newId('sess');
    assertSessionId(sessionId);
    if (options.userId !== undefined && (typeof options.userId !== 'string' || options.userId === '')) {
      throw new InvalidInputError('Invalid userId: use a non-empty string');
    }
    const remote = options as { agentUrl?: unknown; agent_url?: unknown };
    if (remote.agentUrl !== undefined || remote.agent_url !== undefined) {
      throw new InvalidInputError(
        'new Session() runs agents in this process and takes no agentUrl: for a remote agent, use RemoteSession from @sessions/remote-client (new RemoteSession({ agentUrl }))',
      );
    }
    const middleware = options.middleware ?? [];
    if (!Array.isArray(middleware) || middleware.some((item) => typeof item !== 'function')) {
      throw new InvalidInputError(
        'middleware takes an array of functions (turn, next) => Promise<TurnResult>; wrap a reference-style (message, response) => response in afterResponse() from @sessions/middleware',
      );
    }
    this.sessionId = sessionId;
    this.#userId = options.userId ?? DEFAULT_USER;
    this.#userIdGiven = options.userId !== undefined;
    this.store = options.store ?? new MemorySessionStore();
    this.model = options.model;
    this.memory = options.memory;
    this.knowledge = options.knowledge;
    this.middleware = [...middleware];
    this.now = options.now ?? (() => new Date());
    this.#createdAt = isoTime(this.now());
    this.#updatedAt = this.#createdAt;
    this.#metadataGiven = copyJsonValue(options.metadata ?? {}, 'metadata');
    this.#metadata = { ...this.#metadataGiven };
    for (const _ in this.#metadata) {
      this.#stateDirty = true;
      break;
    }
  }

  /** Host metadata kept with the stored state (not the user state). */
  get metadata(): Readonly<Record<string, unknown>> {
    return copyData(this.#metadata);
  }

  get userId(): string {
    return this.#userId;
  }

  /** Makes an agent that works in this session (the reference docs' spelling). */
  Agent(options: Omit<AgentOptions, 'session'>): Agent {
    // Copied key by key: an object spread here cost several µs a session in profiles of the server.
    const own: AgentOptions = { name: options?.name, session: this };
    for (const key in options)
      if (key !== 'session')
        (own as unknown as Record<string, unknown>)[key] = (options as Record<string, unknown>)[key];
    return new Agent(own);
  }

  /** Alias of `Agent`. */
  agent(options: Omit<AgentOptions, 'session'>): Agent {
    return this.Agent(options);
  }

  // ---- state -------------------------------------------------------------------------------

  /** Merges `data` into the user state and persists it with the agents. History is persisted on every turn. */
  async saveState(data: Record<string, unknown> = {}): Promise<void> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidInputError('saveState(data) takes a plain object');
    }
    // Every value checked before any is kept: a refused one keeps none.
    const changes: StateChange[] = [];
    for (const key in data) changes.push({ key, value: stateValue(key, data[key]) });
    await this.#ensureLoaded();
    for (const change of changes) this.#change(change);
    await this.#persistState();
  }

  /** Reloads history, agents and user state from the store; returns the user state. */
  async restoreState(): Promise<Record<string, unknown>> {
    this.#loading = this.#load();
    await this.#loading;
    return copyData(this.#data);
  }

  /**
   * Catches up with the store: its user state, agents and metadata, and the turns written since
   * this object last read or wrote the history (by another `Session`, another process). With a
   * store that has `loadSince` it reads only those turns; otherwise it reloads everything, as
   * `restoreState()` does. A long-lived `Session` that shares its store calls it before a turn.
   */
  refresh(): Promise<void> {
    if (this.#loading === undefined) return this.#ensureLoaded();
    if (!this.#ready) return this.#loading.then(() => this.refresh());
    const cursor = this.#cursor;
    if (this.store.loadSince === undefined || cursor === undefined) {
      this.#loading = this.#load();
      return this.#loading;
    }
    const running = this.#refreshing;
    if (running === undefined) return this.#readTail(cursor);
    // The read in flight may have begun before this call: the calls made while it runs share the
    // next one (so 64 concurrent turns of one session read the store twice, not 64 times).
    this.#refreshNext ??= running.then(this.#afterRefresh, this.#afterRefresh);
    return this.#refreshNext;
  }

  /**
   * The read shared by the `refresh()` calls made while another ran: one begun since then, or a
   * new one. (`#refreshNext` was let go when that read settled: a call made after then, while a
   * read begun since then runs, waits for a later one.)
   */
  readonly #afterRefresh = (): Promise<void> => this.#refreshing ?? this.refresh();

  /** Reads (and takes in) what the store holds after `cursor`: the `refresh()` in flight. */
  #readTail(cursor: HistoryCursor): Promise<void> {
    // Once it settles, the calls made from then on share no read begun before them.
    const settled = (): void => {
      if (this.#refreshing !== read) return;
      this.#refreshing = undefined;
      this.#refreshNext = undefined;
    };
    const read: Promise<void> = this.#readOnce(cursor, true).then(settled, (error: unknown) => {
      settled();
      throw error;
    });
    this.#refreshing = read;
    return read;
  }

  /**
   * One read of what the store holds after `cursor`, taken in. When a state was written or loaded
   * here while it ran, which of the two is the newer is not known: its history is taken in, and
   * (`again`) the store read once more for the state.
   */
  #readOnce(cursor: HistoryCursor, again: boolean): Promise<void> {
    // Behind (turns known to be missing) until a read takes them in: not after one that failed.
    const behind = this.#behind;
    this.#behind = false;
    const taken = this.#statesTaken;
    let tail: Promise<StoredTail | undefined>;
    try {
      const since: HistoryCursor = { seq: cursor.seq, epoch: cursor.epoch };
      if (this.#stateVersion !== undefined) since.stateVersion = this.#stateVersion;
      tail = this.store.loadSince!(this.sessionId, since);
    } catch (error) {
      if (behind) this.#behind = true;
      return Promise.reject(error);
    }
    return tail.then(
      (loaded) => {
        if (!again || this.#statesTaken === taken) return this.#applyTail(loaded);
        this.#applyTail(loaded, false);
        return this.#readOnce(this.#cursor ?? cursor, false);
      },
      (error: unknown) => {
        if (behind) this.#behind = true;
        throw error;
      },
    );
  }

  /**
   * A value of the user state (as last loaded or set), or `defaultValue`. Synchronous: it reads
   * the loaded session; before anything loaded it (`await restoreState()`, any awaited call), the
   * default. An object or array is a copy: changing it changes nothing (use `setState`).
   */
  getState<T = unknown>(key: string, defaultValue?: T): T {
    if (!Object.hasOwn(this.#data, key)) return defaultValue as T;
    const value = this.#data[key];
    return (typeof value === 'object' && value !== null ? copyData(value) : value) as T;
  }

  /**
   * Sets one value of the user state and persists it: a copy of `value`, which must be JSON
   * (strings, finite numbers, booleans, null, arrays, plain objects), else `InvalidInputError`
   * naming the key and nothing changes. `undefined` removes the key.
   */
  async setState(key: string, value: unknown): Promise<void> {
    assertStateKey(key);
    const kept = stateValue(key, value);
    await this.#ensureLoaded();
    this.#change({ key, value: kept });
    await this.#persistState();
  }

  /**
   * Adds `by` to a numeric value of the user state (starting from `defaultValue`), persists,
   * returns it. The increment is applied to the stored value, so concurrent increments (from
   * other `Session` objects too) all count.
   */
  async incrementState(key: string, by = 1, defaultValue = 0): Promise<number> {
    assertStateKey(key);
    if (
      typeof by !== 'number' ||
      !Number.isFinite(by) ||
      typeof defaultValue !== 'number' ||
      !Number.isFinite(defaultValue)
    ) {
      throw new InvalidInputError(
        `incrementState("${key}", by, defaultValue) takes finite numbers, got ${describeNumber(by)} and ${describeNumber(defaultValue)}`,
      );
    }
    await this.#ensureLoaded();
    const change: StateChange = { key, by, from: defaultValue };
    const wasDirty = this.#stateDirty;
    this.#change(change);
    if (change.error) {
      // Refused here: nothing changed, so nothing more to write than before.
      this.#changes.pop();
      this.#stateDirty = wasDirty;
      throw change.error;
    }
    await this.#persistState();
    if (change.error) throw change.error;
    return change.result!;
  }

  /**
   * The session's metadata as last loaded or changed here. Synchronous: before the session is
   * loaded (`await restoreState()`, or any awaited call), defaults — `messageCount: 0`,
   * `createdAt` now, the `userId` given or `'default_user'`.
   */
  getContext(): SessionContext {
    const last = this.#messages.at(-1)?.createdAt;
    return {
      sessionId: this.sessionId,
      userId: this.#userId,
      createdAt: this.#createdAt,
      updatedAt: lastChange(this.#updatedAt, last) ?? this.#updatedAt,
      messageCount: this.#messages.length,
      agents: [...this.#agents.keys()],
    };
  }

  /** The whole history, oldest first (loaded from the store on first use). */
  async messages(): Promise<Message[]> {
    await this.#ensureLoaded();
    if (this.#behind) await this.refresh();
    return copyData(this.#messages);
  }

  /** The configuration of an agent of this session, as persisted. */
  getAgentConfig(name: string): AgentConfig | undefined {
    const config = this.#agents.get(name);
    return config && copyData(config);
  }

  // ---- memory and knowledge ---------------------------------------------------------------

  /**
   * The scope of memories added through this session. Synchronous: its `userId` is the stored
   * session's only once the session is loaded (any awaited call loads it; the memory methods
   * below load it first).
   */
  get scope(): Scope {
    return { userId: this.#userId, sessionId: this.sessionId };
  }

  async addMemory(text: string, options: AddMemoryOptions = {}): Promise<MemoryRecord> {
    const memory = this.#requireMemory('addMemory');
    if (typeof text !== 'string' || text.trim() === '') {
      throw new InvalidInputError('addMemory(text) takes a non-empty string');
    }
    assertMemoryType(options.type);
    if (options.scope !== undefined && options.scope !== 'session' && options.scope !== 'user') {
      throw new InvalidInputError(
        `Invalid memory scope ${JSON.stringify(options.scope)}: use 'session' or 'user'`,
      );
    }
    // Memory is scoped by the user: the stored session's, unless one was given.
    if (!this.#userIdGiven && !this.#ready) await this.#ensureLoaded();
    const metadata = { ...options.metadata, type: options.type ?? 'long' };
    const scope = options.scope === 'user' ? { userId: this.#userId } : this.scope;
    return memory.add({ text, metadata, createdAt: this.now() }, scope);
  }

  async searchMemory(query: string, options: SearchMemoryOptions = {}): Promise<MemoryHit[]> {
    const memory = this.#requireMemory('searchMemory');
    const { limit = 5, type, minScore } = options;
    assertMemoryType(type);
    if (!this.#userIdGiven && !this.#ready) await this.#ensureLoaded();
    return memory.search(query, {
      limit,
      scope: this.scope,
      ...(minScore !== undefined && { minScore }),
      ...(type !== undefined && { filter: { type } }),
    });
  }

  /** Removes this session's memories (only those of `type` when given); returns how many. */
  async clearMemory(type?: MemoryType): Promise<number> {
    const memory = this.#requireMemory('clearMemory');
    assertMemoryType(type);
    if (!this.#userIdGiven && !this.#ready) await this.#ensureLoaded();
    if (type === undefined) return memory.clear(this.scope);
    const records = await memory.list(this.scope);
    const own = records.filter(
      (record) => record.scope.sessionId === this.sessionId && record.metadata.type === type,
    );
    await Promise.all(own.map((record) => memory.delete(record.id)));
    return own.length;
  }

  async addKnowledge(source: KnowledgeSource, options?: KnowledgeAddOptions): Promise<KnowledgeDocument> {
    return this.#requireKnowledge('addKnowledge').add(source, options);
  }

  async searchKnowledge(query: string, options: SearchKnowledgeOptions = {}): Promise<KnowledgeHit[]> {
    const { limit = 5 } = options;
    return this.#requireKnowledge('searchKnowledge').search(query, { limit });
  }

  /** The memory and knowledge text an agent would get for `query`; empty when nothing is relevant. */
  async buildContext(query: string, options: BuildContextOptions = {}): Promise<string> {
    const { maxItems = 5, maxTokens = 1_500 } = options;
    const useMemory = options.memory ?? this.memory !== undefined;
    const useKnowledge = options.knowledge ?? this.knowledge !== undefined;
    const [found, passages] = await Promise.all([
      useMemory ? this.searchMemory(query, { limit: maxItems }) : [],
      useKnowledge ? this.searchKnowledge(query, { limit: maxItems }) : [],
    ]);
    let memories: Array<{ text: string }> = found;
    let memoryTitle = 'Relevant memories';
    if (found.length === 0 && useMemory && options.recentMemories && maxItems > 0) {
      // Nothing matched the words: the newest memories of this session and its user, newest first.
      memories = (await this.#requireMemory('buildContext').list(this.scope)).slice(-maxItems).reverse();
      memoryTitle = 'Recent memories';
    }
    const sections: string[] = [];
    let budget = maxTokens;
    const take = (lines: string[]): string[] => {
      const kept: string[] = [];
      for (const line of lines) {
        const cost = estimateTokens(line);
        if (cost > budget) break;
        budget -= cost;
        kept.push(line);
      }
      return kept;
    };
    const memoryLines = take(memories.map((hit) => `- ${hit.text}`));
    if (memoryLines.length > 0) sections.push(`${memoryTitle}:\n${memoryLines.join('\n')}`);
    const knowledgeLines = take(passages.map((hit, index) => `[${index + 1}] ${cite(hit)}\n${hit.text}`));
    if (knowledgeLines.length > 0) sections.push(`Relevant knowledge:\n${knowledgeLines.join('\n\n')}`);
    return sections.join('\n\n');
  }

  // ---- used by Agent ------------------------------------------------------------------------

  /**
   * @internal Registers what an `Agent()` call gave (`given`: only the options it was given). The
   * agent's configuration is the stored one (once loaded) with these put over it; it is persisted
   * with the next turn or save when that changes it.
   */
  registerAgent(given: AgentConfig): void {
    const name = given.name;
    const before = this.#agentsGiven.get(name);
    const held = this.#agents.get(name);
    // The same agent made again (a host making it per request): nothing to do, nothing made.
    if (
      before !== undefined &&
      held !== undefined &&
      coversAgentConfig(before, given) &&
      coversAgentConfig(held, given)
    )
      return;
    this.#agentsGiven.set(name, before === undefined ? copyData(given) : overlayAgentConfig(before, given));
    const next = overlayAgentConfig(held ?? { name }, given);
    if (held !== undefined && sameAgentConfig(held, next)) return;
    this.#agents.set(name, next);
    this.#agentsChanged.add(name);
    this.#stateDirty = true;
  }

  /**
   * @internal The configuration of agent `name` as held (not a copy: do not change it). It is
   * replaced, never changed, when it changes: the same object means the same configuration.
   */
  heldAgentConfig(name: string): AgentConfig | undefined {
    return this.#agents.get(name);
  }

  /** @internal The history as the model should see it, loaded on first use. */
  async history(): Promise<readonly Message[]> {
    await this.#ensureLoaded();
    if (this.#behind) await this.refresh();
    return this.#messages;
  }

  /**
   * @internal The history, when it is loaded and nothing is known to be missing from it (what
   * `history()` would answer without waiting); otherwise `undefined`: call `history()`.
   */
  loadedHistory(): readonly Message[] | undefined {
    return this.#ready && !this.#behind ? this.#messages : undefined;
  }

  /**
   * @internal Where the newest messages within `budget` rough tokens (content plus 4 a message)
   * start in `history()`, moved on to a user message so tool calls stay paired. Costs are summed
   * once per message, so a turn does not walk its whole window again.
   */
  windowStart(budget: number): number {
    const messages = this.#messages;
    let costs = this.#costs;
    if (this.#costsOf !== messages) {
      costs = [0];
      this.#costs = costs;
      this.#costsOf = messages;
    }
    for (let i = costs.length - 1; i < messages.length; i++) {
      costs.push(costs[i]! + estimateTokens(messages[i]!.content) + 4);
    }
    // The first start whose messages up to the end cost at most `budget`.
    const floor = costs[messages.length]! - budget;
    let low = 0;
    let high = messages.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (costs[middle]! >= floor) high = middle;
      else low = middle + 1;
    }
    let start = low;
    while (start < messages.length && messages[start]!.role !== 'user') start += 1;
    return start;
  }

  /**
   * @internal The turn stored under `turnId` (`ChatOptions.turnId`) when the loaded history holds
   * it: its reply (the assistant message whose `metadata.turnId` it is) and the user message it
   * answered. The history is read once per message, and only once some turn asks.
   */
  storedTurn(turnId: string): { reply: Message; message: Message | undefined } | undefined {
    const messages = this.#messages;
    if (this.#repliesOf !== messages || this.#repliesSeen > messages.length) {
      this.#replies = new Map();
      this.#repliesOf = messages;
      this.#repliesSeen = 0;
    }
    for (let i = this.#repliesSeen; i < messages.length; i++) {
      const message = messages[i]!;
      const id = message.metadata?.turnId;
      if (typeof id === 'string' && message.role === 'assistant') this.#replies.set(id, i);
    }
    this.#repliesSeen = messages.length;
    const at = this.#replies.get(turnId);
    if (at === undefined) return undefined;
    let asked = at - 1;
    while (asked >= 0 && messages[asked]!.role !== 'user') asked -= 1;
    return { reply: messages[at]!, message: messages[asked] };
  }

  /**
   * @internal Appends one turn's messages durably, then to the in-memory history. With an
   * `idempotencyKey` the store may answer an earlier append of it instead of storing these
   * messages: then what it kept is loaded instead, and `earlier` is the reply it kept (the last
   * message of that append).
   */
  async appendTurn(
    messages: Message[],
    idempotencyKey?: string,
  ): Promise<AppendResult & { earlier?: Message }> {
    if (!this.#ready) await this.#ensureLoaded();
    const result = await this.store.append(
      this.sessionId,
      messages,
      idempotencyKey === undefined ? {} : { idempotencyKey },
    );
    // Whether the store appended these very messages (with a key it may have kept an earlier
    // append of it instead: unless the store says which, see below).
    const stored = idempotencyKey === undefined || result.replayed === false;
    const cursor = this.#cursor;
    if (cursor === undefined || this.store.loadSince === undefined) {
      if (stored) this.#messages.push(...messages);
    } else if (stored && result.seq - messages.length === this.#messages.length) {
      // Right after what this object holds: the history is still a copy of the store's.
      for (const message of messages) this.#messages.push(message);
      cursor.seq = result.seq;
    } else if (result.seq > this.#messages.length) {
      // Others' turns came first (or the store kept an earlier append of the key): load them.
      this.#behind = true;
    }
    if (!this.#stateSaved || this.#stateDirty) await this.#persistState();
    if (stored) return result;
    const earlier = await this.#earlierAppend(result.seq, messages.at(-1));
    return earlier === undefined ? result : { seq: result.seq, earlier };
  }

  // ---- internals ---------------------------------------------------------------------------

  #requireMemory(method: string): MemoryStore {
    if (this.memory) return this.memory;
    throw new NotConfiguredError(
      `session.${method}() needs a memory store: pass \`memory: new Memory()\` from @sessions/memory to new Session()`,
    );
  }

  #requireKnowledge(method: string): KnowledgeBase {
    if (this.knowledge) return this.knowledge;
    throw new NotConfiguredError(
      `session.${method}() needs a knowledge base: pass \`knowledge: new Knowledge()\` from @sessions/knowledge to new Session()`,
    );
  }

  /**
   * After an append under an idempotency key that answered `seq`: the store's message at `seq`
   * (the last of the append it kept for the key) when it is not `own`, that is when the store had
   * kept an earlier append of the key; loads the history up to it first.
   */
  async #earlierAppend(seq: number, own: Message | undefined): Promise<Message | undefined> {
    if (this.#cursor === undefined || this.store.loadSince === undefined || this.#messages.length < seq) {
      await this.refresh();
    }
    const kept = this.#messages[seq - 1];
    return kept === undefined || kept.id === own?.id ? undefined : copyData(kept);
  }

  #ensureLoaded(): Promise<void> {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  async #load(): Promise<void> {
    this.#loads += 1;
    const load = this.#loads;
    this.#ready = false;
    try {
      if (this.store.loadSince !== undefined) {
        this.#behind = false;
        this.#applyTail(await this.store.loadSince(this.sessionId));
      } else {
        this.#apply(await this.store.load(this.sessionId));
      }
      this.#statesTaken += 1;
    } catch (error) {
      this.#loading = undefined;
      throw error;
    }
    if (load === this.#loads) this.#ready = true;
  }

  /** Takes in a `loadSince` answer: the tail (or the whole history), and (`takeState`) the state. */
  #applyTail(tail: StoredTail | undefined, takeState = true): void {
    if (tail === undefined) {
      this.#cursor = { seq: 0, epoch: '' };
      if (takeState) this.#apply(undefined);
      else this.#messages = [];
      return;
    }
    const cursor = this.#cursor;
    const held = this.#messages.length;
    if (tail.from > 0 && cursor !== undefined && cursor.epoch === tail.epoch && tail.from <= held) {
      // Continues what is held. Turns appended here meanwhile may already be in.
      for (let i = held - tail.from; i < tail.messages.length; i++) this.#messages.push(tail.messages[i]!);
      cursor.seq = this.#messages.length;
    } else if (
      !(tail.from === 0 && cursor !== undefined && cursor.epoch === tail.epoch && tail.seq <= held)
    ) {
      // The whole history (unless an older read of the same history than what is held).
      this.#messages = tail.from === 0 ? tail.messages : [];
      this.#cursor = { seq: this.#messages.length, epoch: tail.from === 0 ? tail.epoch : '' };
      if (tail.from !== 0) this.#behind = true;
    }
    if (!takeState) return;
    this.#stateVersion = tail.stateVersion;
    // The store still holds the state held here (the cursor named its version): nothing to take in.
    if (tail.stateUnchanged !== true) this.#applyState(tail.state);
  }

  #apply(stored: StoredSession | undefined): void {
    this.#stateVersion = undefined;
    this.#messages = stored?.messages ?? [];
    this.#applyState(stored?.state);
  }

  #applyState(state: SessionState | undefined): void {
    if (!state) {
      // Nothing stored (or deleted since): the next turn or save stores the state again.
      this.#stateSaved = false;
      return;
    }
    if (!this.#userIdGiven) this.#userId = state.userId;
    this.#createdAt = state.createdAt;
    this.#updatedAt = state.updatedAt;
    this.#data = state.data ?? {};
    this.#metadata = { ...state.metadata, ...this.#metadataGiven };
    for (const agent of state.agents ?? []) this.#holdAgent(agent);
    this.#stateSaved = true;
  }

  /**
   * Takes in an agent's stored configuration: what this object's `Agent()` calls gave goes over
   * it; when that changes it, the agent is written with the next state write.
   */
  #holdAgent(stored: AgentConfig): void {
    const name = stored.name;
    const given = this.#agentsGiven.get(name);
    const next =
      given === undefined || coversAgentConfig(stored, given) ? stored : overlayAgentConfig(stored, given);
    const held = this.#agents.get(name);
    if (held === undefined || !sameAgentConfig(held, next)) this.#agents.set(name, next);
    if (next !== stored) {
      this.#agentsChanged.add(name);
      this.#stateDirty = true;
    }
  }

  /** Notes a change of the user state: applied to this copy now, and over the stored state when written. */
  #change(change: StateChange): void {
    applyChange(this.#data, change);
    this.#changes.push(change);
    this.#stateDirty = true;
  }

  /**
   * Writes the state: the stored one with this object's changes (user state keys, agents) applied
   * over it, so changes written meanwhile by other `Session` objects are kept. One write at a
   * time per session id in this process; across processes with a store's `updateState`.
   */
  async #persistState(): Promise<void> {
    await stateWrites.run(this.sessionId, () => this.#writeState());
  }

  async #writeState(): Promise<void> {
    const changes = this.#changes;
    const agentNames = this.#agentsChanged;
    this.#changes = [];
    this.#agentsChanged = new Set();
    this.#stateDirty = false;
    // What is held will be what this writes, whose version the store does not tell.
    this.#stateVersion = undefined;
    const merge = (stored: SessionState | undefined): SessionState =>
      this.#merged(stored, changes, agentNames);
    const store = this.store;
    try {
      let written: SessionState;
      if (store.updateState !== undefined) {
        written = await store.updateState(this.sessionId, merge);
      } else {
        written = merge(await this.#storedState());
        await store.saveState(this.sessionId, written);
      }
      this.#stateSaved = true;
      // Take in what was written (others' changes too), then this object's changes made meanwhile.
      if (!this.#userIdGiven) this.#userId = written.userId;
      this.#createdAt = written.createdAt;
      this.#updatedAt = written.updatedAt;
      this.#data = { ...written.data };
      for (const change of this.#changes) applyChange(this.#data, change);
      this.#metadata = { ...written.metadata, ...this.#metadataGiven };
      for (const agent of written.agents ?? []) this.#holdAgent(agent);
      // Not the version a read that answered meanwhile named (its state may be older or newer).
      this.#stateVersion = undefined;
      this.#statesTaken += 1;
    } catch (error) {
      for (const name of agentNames) this.#agentsChanged.add(name);
      this.#stateDirty = true;
      if (SessionsError.is(error) && error.code === 'invalid_input') {
        // Refused: not kept for the next write (it would be refused again, and every write after
        // it), and taken back from the copy held here.
        await this.#dropRefused();
      } else {
        // Not written (the store failed): kept for the next write.
        this.#changes = [...changes, ...this.#changes];
      }
      throw error;
    }
  }

  /**
   * After the store refused a state write: the user state held here again as stored, with this
   * object's changes made since applied over it (the refused ones are dropped).
   */
  async #dropRefused(): Promise<void> {
    let stored: SessionState | undefined;
    try {
      stored = await this.#storedState();
    } catch {
      return; // The store cannot be read now: what is held stays as it is.
    }
    const data: Record<string, unknown> = { ...stored?.data };
    for (const change of this.#changes) applyChange(data, change);
    this.#data = data;
    this.#stateVersion = undefined;
    this.#statesTaken += 1;
  }

  /** The state as stored now: read with `loadSince` after this object's cursor (cheap) when the store has it. */
  async #storedState(): Promise<SessionState | undefined> {
    const cursor = this.#cursor;
    if (this.store.loadSince !== undefined) {
      const tail = await this.store.loadSince(
        this.sessionId,
        cursor === undefined ? undefined : { seq: cursor.seq, epoch: cursor.epoch },
      );
      return tail?.state;
    }
    return (await this.store.load(this.sessionId))?.state;
  }

  /** The state to write: `stored` with these changes applied, or this object's whole state when nothing is stored. */
  #merged(stored: SessionState | undefined, changes: StateChange[], agentNames: Set<string>): SessionState {
    this.#updatedAt = isoTime(this.now());
    let data: Record<string, unknown>;
    let agents: AgentConfig[];
    let metadata: Record<string, unknown>;
    if (stored === undefined) {
      // Nothing stored (or deleted since): this object's state is the session's.
      data = { ...this.#data };
      for (const change of changes) {
        if ('by' in change && change.error === undefined) change.result = data[change.key] as number;
      }
      agents = [...this.#agents.values()];
      metadata = this.#metadata;
    } else {
      data = { ...stored.data };
      for (const change of changes) applyChange(data, change);
      // The stored configuration of an agent changed here, with what was given here over it.
      agents = (stored.agents ?? []).map((agent) => {
        const given = agentNames.has(agent.name) ? this.#agentsGiven.get(agent.name) : undefined;
        return given === undefined ? agent : overlayAgentConfig(agent, given);
      });
      for (const name of agentNames) {
        const agent = this.#agents.get(name);
        if (agent !== undefined && !agents.some((kept) => kept.name === name)) agents.push(agent);
      }
      metadata = { ...stored.metadata, ...this.#metadataGiven };
    }
    // The store keeps a copy (the port's contract): these need not be copied again here.
    const state: SessionState = {
      schemaVersion: 1,
      sessionId: this.sessionId,
      userId: stored === undefined || this.#userIdGiven ? this.#userId : stored.userId,
      createdAt: stored?.createdAt ?? this.#createdAt,
      updatedAt: this.#updatedAt,
      data,
      agents,
    };
    for (const _ in metadata) {
      state.metadata = { ...metadata };
      break;
    }
    return state;
  }
}

function describeNumber(value: unknown): string {
  return typeof value === 'string'
    ? JSON.stringify(value)
    : typeof value === 'number'
      ? String(value)
      : typeof value;
}

function cite(hit: KnowledgeHit): string {
  const parts = [hit.title ?? hit.source];
  if (hit.title && hit.source !== hit.title) parts.push(hit.source);
  if (hit.page !== undefined) parts.push(`page ${hit.page}`);
  parts.push(`chunk ${hit.chunkIndex}`);
  return `(${parts.join(', ')})`;
}
