import {
  type AgentStream,
  assertSessionId,
  Channel,
  InvalidInputError,
  type KnowledgeDocument,
  type KnowledgeHit,
  type MemoryHit,
  type MemoryRecord,
  type MemoryType,
  type Message,
  type SessionContext,
  SessionsError,
  type StreamChunk,
  TimeoutError,
} from '@sessions/core';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import ky, { isHTTPError, isTimeoutError, type KyInstance, type Options, type RetryOptions } from 'ky';
import { type AgentRoutes, agentRoutes } from './agent-url.js';
import { fileToUpload, type RemoteKnowledgeSource } from './knowledge-upload.js';
import {
  errorFromAnswer,
  isBadPort,
  networkCode,
  RemoteError,
  retryAfterMs,
  unreachable,
} from './remote-error.js';

export interface RemoteSessionOptions {
  /** The agent endpoint, e.g. `http://127.0.0.1:8000/agent`; without a scheme it means `http://`. */
  agentUrl: string;
  /** Milliseconds each request may take before it fails with `TimeoutError`. Default 30,000. */
  timeout?: number;
  /** Sent with every request, e.g. `{ Authorization: 'Bearer ...' }`. */
  headers?: Record<string, string>;
  /** The session to talk in; when absent the server starts one on the first turn, and it is kept. */
  sessionId?: string;
  /** Sent as `user_id` with every turn. */
  userId?: string;
  /** Retries after a network error, a 429 or a 503, with exponential backoff. Default 2. */
  retries?: number;
  /** The `fetch` to use. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

export interface RemoteCallOptions {
  signal?: AbortSignal;
}

export interface RemoteChatOptions extends RemoteCallOptions {
  /** Names the turn for the server's deduplication; one is generated per call when absent. */
  idempotencyKey?: string;
}

export interface RemoteAddMemoryOptions extends RemoteCallOptions {
  /** Default `'long'` (decided by the server). */
  type?: MemoryType;
  metadata?: Record<string, unknown>;
  /**
   * `'session'` (default): this session only; `'user'`: every session of this session's user, when
   * the server shares one memory store between sessions.
   */
  scope?: 'session' | 'user';
}

export interface RemoteSearchMemoryOptions extends RemoteCallOptions {
  /** Default 5 (decided by the server). */
  limit?: number;
  type?: MemoryType;
}

export interface RemoteListMemoriesOptions extends RemoteCallOptions {
  /** Only memories of this type. */
  type?: MemoryType;
}

export interface RemoteSearchKnowledgeOptions extends RemoteCallOptions {
  /** Default 5 (decided by the server). */
  limit?: number;
}

export interface RemoteAddKnowledgeOptions extends RemoteCallOptions {
  /** Names the document; derived from its content when absent. */
  id?: string;
  metadata?: Record<string, unknown>;
}

/** The answer of `POST /agent`. */
interface AgentAnswer {
  content?: unknown;
  response?: unknown;
  session_id?: unknown;
}

/**
 * `idempotent`: retried on every retryable failure. `once`: after a network error only when the
 * connection was refused (the server cannot have acted). `delete`: as `idempotent`, and a 404 after
 * a retry that followed a network error means done (the lost attempt may have deleted it).
 */
type RetryKind = 'idempotent' | 'once' | 'delete';

const DEFAULT_TIMEOUT = 30_000;
const MESSAGES_PAGE = 200;

/**
 * A session of an agent served over HTTP (by `@sessions/remote-server`), used like a local agent:
 * `await remote.chat('Hello')`. Network errors, 429 and 503 are retried with backoff; a retried
 * turn reuses its `Idempotency-Key`, so the server never runs it twice.
 */
export class RemoteSession {
  /** Where the agent's routes are. */
  readonly routes: AgentRoutes;
  readonly userId: string | undefined;
  readonly timeout: number;

  readonly #ky: KyInstance;
  readonly #retries: number;
  #sessionId: string | undefined;
  /** Settles when the turn that will learn the session id ends; later turns wait for it. */
  #naming: Promise<void> | undefined;

  constructor(options: RemoteSessionOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidInputError('RemoteSession takes an options object: new RemoteSession({ agentUrl })');
    }
    this.routes = agentRoutes(options.agentUrl);
    const { timeout = DEFAULT_TIMEOUT, retries = 2 } = options;
    if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 2_147_483_647) {
      throw new InvalidInputError(`Invalid timeout ${timeout}: use a positive number of milliseconds`);
    }
    if (!Number.isInteger(retries) || retries < 0) {
      throw new InvalidInputError(`Invalid retries ${retries}: use a whole number, 0 or more`);
    }
    if (options.sessionId !== undefined) assertSessionId(options.sessionId);
    if (options.userId !== undefined && (typeof options.userId !== 'string' || options.userId === '')) {
      throw new InvalidInputError('Invalid userId: use a non-empty string');
    }
    this.timeout = timeout;
    this.userId = options.userId;
    this.#retries = retries;
    this.#sessionId = options.sessionId;
    this.#ky = ky.create({
      timeout,
      throwHttpErrors: true,
      ...(options.headers !== undefined && { headers: options.headers }),
      ...(options.fetch !== undefined && { fetch: options.fetch }),
    });
  }

  /** The session's id: the one given, else the one the server named on the first turn. */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  // ---- turns -------------------------------------------------------------------------------

  /** Sends one message and returns the agent's answer. */
  async chat(message: string, options: RemoteChatOptions = {}): Promise<string> {
    assertMessage(message, 'chat');
    const key = turnKey(options);
    const release = await this.#claim();
    try {
      const response = await this.#send('POST', this.routes.agent, {
        json: this.#turnBody(message),
        headers: { 'idempotency-key': key, accept: 'application/json' },
        retry: 'idempotent',
        signal: options.signal,
      });
      return this.#adoptAnswer(await readJson<AgentAnswer>(response, this.routes.agent));
    } finally {
      release();
    }
  }

  /** Alias of `chat`. */
  sendMessage(message: string, options: RemoteChatOptions = {}): Promise<string> {
    return this.chat(message, options);
  }

  /**
   * Sends one message and yields the answer as it is written (`{ delta }`), over server-sent
   * events. Leaving the loop early (or aborting `signal`) cancels the request, and the server
   * cancels the model call. A stream that ends before the server's `done` throws.
   */
  stream(message: string, options: RemoteChatOptions = {}): AgentStream {
    assertMessage(message, 'stream');
    let settle!: { resolve: (text: string) => void; reject: (error: unknown) => void };
    const text = new Promise<string>((resolve, reject) => {
      settle = { resolve, reject };
    });
    text.catch(() => undefined); // read by whoever asks for it; the stream throws the same error
    let iterator: AsyncIterator<StreamChunk> | undefined;
    const open = (): AsyncIterator<StreamChunk> => {
      iterator ??= this.#streamTurn(message, options, settle);
      return iterator;
    };
    return {
      get text(): Promise<string> {
        // Nobody iterates yet: run the turn to its end here, keeping its deltas for a loop to come.
        if (iterator === undefined) iterator = buffered(open());
        return text;
      },
      [Symbol.asyncIterator]: open,
    };
  }

  // ---- health and session ------------------------------------------------------------------

  /** `GET /health`: resolves when the agent answers, else throws (`Cannot reach agent at ...`). */
  async ping(options: RemoteCallOptions = {}): Promise<{ status: string }> {
    const url = this.routes.route('health');
    const response = await this.#send('GET', url, { retry: 'idempotent', signal: options.signal });
    const body = await readJson<{ status?: unknown }>(response, url);
    return { ...body, status: typeof body.status === 'string' ? body.status : 'ok' };
  }

  /** The session's metadata as the server has it (`GET /sessions/{id}`). */
  async getContext(options: RemoteCallOptions = {}): Promise<SessionContext> {
    const url = this.#sessionRoute('getContext');
    const response = await this.#send('GET', url, { retry: 'idempotent', signal: options.signal });
    return toContext(await readJson<Record<string, unknown>>(response, url));
  }

  /** The whole history, oldest first, fetched page by page (`GET /sessions/{id}/messages`). */
  async messages(options: RemoteCallOptions = {}): Promise<Message[]> {
    const url = this.#sessionRoute('messages', 'messages');
    const all: Message[] = [];
    let offset = 0;
    for (;;) {
      const response = await this.#send('GET', url, {
        retry: 'idempotent',
        searchParams: { offset: String(offset), limit: String(MESSAGES_PAGE) },
        signal: options.signal,
      });
      const page = await readJson<{ messages?: unknown; nextOffset?: unknown }>(response, url);
      if (!Array.isArray(page.messages)) throw protocolError(url, 'a page without "messages"');
      all.push(...(page.messages as Message[]));
      const next = page.nextOffset;
      if (typeof next !== 'number' || next <= offset || page.messages.length === 0) return all;
      offset = next;
    }
  }

  /** Deletes the session, its history and state on the server (`DELETE /sessions/{id}`). */
  async delete(options: RemoteCallOptions = {}): Promise<void> {
    const url = this.#sessionRoute('delete');
    await this.#send('DELETE', url, { retry: 'delete', signal: options.signal });
  }

  // ---- state -------------------------------------------------------------------------------

  /** Merges `data` into the session's user state on the server. */
  async saveState(data: Record<string, unknown> = {}, options: RemoteCallOptions = {}): Promise<void> {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new InvalidInputError('saveState(data) takes a plain object');
    }
    const url = this.#sessionRoute('saveState', 'state');
    await this.#send('PATCH', url, { json: data, retry: 'idempotent', signal: options.signal });
  }

  /** The session's user state as the server has it (the local `restoreState()` reloads it too). */
  async restoreState(options: RemoteCallOptions = {}): Promise<Record<string, unknown>> {
    return this.state(options);
  }

  /** The session's user state as the server has it (`GET /sessions/{id}/state`). */
  async state(options: RemoteCallOptions = {}): Promise<Record<string, unknown>> {
    const url = this.#sessionRoute('state', 'state');
    const response = await this.#send('GET', url, { retry: 'idempotent', signal: options.signal });
    const { state } = await readJson<{ state?: unknown }>(response, url);
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw protocolError(url, 'a state that is not an object');
    }
    return state as Record<string, unknown>;
  }

  /** One value of the user state, or `defaultValue` (asks the server: unlike the local one, async). */
  async getState<T = unknown>(key: string, defaultValue?: T, options: RemoteCallOptions = {}): Promise<T> {
    assertKey(key, 'getState');
    const state = await this.state(options);
    return (Object.hasOwn(state, key) ? state[key] : defaultValue) as T;
  }

  /** Sets one value of the session's user state on the server. */
  async setState(key: string, value: unknown, options: RemoteCallOptions = {}): Promise<void> {
    assertKey(key, 'setState');
    await this.saveState({ [key]: value }, options);
  }

  /** Adds `by` to a numeric value of the user state on the server (from `defaultValue`); returns it. */
  async incrementState(
    key: string,
    by = 1,
    defaultValue = 0,
    options: RemoteCallOptions = {},
  ): Promise<number> {
    assertKey(key, 'incrementState');
    if (!Number.isFinite(by) || !Number.isFinite(defaultValue)) {
      throw new InvalidInputError('incrementState(key, by, defaultValue) takes finite numbers');
    }
    const url = this.#sessionRoute('incrementState', 'state', key, 'increment');
    const response = await this.#send('POST', url, {
      json: { by, default: defaultValue },
      retry: 'once',
      signal: options.signal,
    });
    const { value } = await readJson<{ value?: unknown }>(response, url);
    if (typeof value !== 'number') throw protocolError(url, 'an increment without a numeric "value"');
    return value;
  }

  // ---- memory and knowledge ----------------------------------------------------------------

  async addMemory(text: string, options: RemoteAddMemoryOptions = {}): Promise<MemoryRecord> {
    if (typeof text !== 'string' || text.trim() === '') {
      throw new InvalidInputError('addMemory(text) takes a non-empty string');
    }
    const url = this.#sessionRoute('addMemory', 'memory');
    const { type, metadata, scope, signal } = options;
    if (scope !== undefined && scope !== 'session' && scope !== 'user') {
      throw new InvalidInputError('addMemory scope must be "session" or "user"');
    }
    const response = await this.#send('POST', url, {
      json: {
        text,
        ...(type !== undefined && { type }),
        ...(metadata !== undefined && { metadata }),
        ...(scope !== undefined && { scope }),
      },
      retry: 'once',
      signal,
    });
    return readJson<MemoryRecord>(response, url);
  }

  async searchMemory(query: string, options: RemoteSearchMemoryOptions = {}): Promise<MemoryHit[]> {
    assertQuery(query, 'searchMemory');
    const url = this.#sessionRoute('searchMemory', 'memory');
    const { limit, type, signal } = options;
    const searchParams: Record<string, string> = { q: query };
    if (limit !== undefined) searchParams.limit = String(limit);
    if (type !== undefined) searchParams.type = type;
    const response = await this.#send('GET', url, { searchParams, retry: 'idempotent', signal });
    return readList<MemoryHit>(response, url, 'results');
  }

  /** The memories this session sees (its own, its user's, shared ones), oldest first. */
  async listMemories(options: RemoteListMemoriesOptions = {}): Promise<MemoryRecord[]> {
    const url = this.#sessionRoute('listMemories', 'memory');
    const { type, signal } = options;
    const response = await this.#send('GET', url, {
      ...(type !== undefined && { searchParams: { type } }),
      retry: 'idempotent',
      signal,
    });
    return readList<MemoryRecord>(response, url, 'memories');
  }

  /** Removes this session's memories (only those of `type` when given); returns how many. */
  async clearMemory(type?: MemoryType, options: RemoteCallOptions = {}): Promise<number> {
    const url = this.#sessionRoute('clearMemory', 'memory');
    const response = await this.#send('DELETE', url, {
      ...(type !== undefined && { searchParams: { type } }),
      retry: 'idempotent',
      signal: options.signal,
    });
    if (response.status === 204) return 0;
    const body = await readJson<{ deleted?: unknown }>(response, url);
    return typeof body.deleted === 'number' ? body.deleted : 0;
  }

  /**
   * Adds a document to the session's knowledge: text, `{ text, title }`, bytes
   * (`{ data, filename }`), or a local file (`{ path }`, or a string naming an existing file),
   * which is read here and uploaded.
   */
  async addKnowledge(
    source: RemoteKnowledgeSource,
    options: RemoteAddKnowledgeOptions = {},
  ): Promise<KnowledgeDocument> {
    const url = this.#sessionRoute('addKnowledge', 'knowledge');
    const { id, metadata, signal } = options;
    const upload = await fileToUpload(source);
    let request: SendOptions;
    if (upload) {
      const form = new FormData();
      form.set('file', upload.blob, upload.filename);
      if (id !== undefined) form.set('id', id);
      const title = (source as { title?: unknown }).title;
      if (typeof title === 'string' && title !== '') form.set('title', title);
      if (metadata !== undefined) form.set('metadata', JSON.stringify(metadata));
      request = { body: form, retry: 'once', signal };
    } else {
      const text =
        typeof source === 'string' ? { text: source } : (source as { text: unknown; title?: unknown });
      if (typeof text.text !== 'string' || text.text.trim() === '') {
        throw new InvalidInputError(
          'addKnowledge() takes text, { text, title? }, { path } of a local file, or { data, filename }',
        );
      }
      request = {
        json: { ...text, ...(id !== undefined && { id }), ...(metadata !== undefined && { metadata }) },
        retry: 'once',
        signal,
      };
    }
    const response = await this.#send('POST', url, request);
    return readJson<KnowledgeDocument>(response, url);
  }

  async searchKnowledge(query: string, options: RemoteSearchKnowledgeOptions = {}): Promise<KnowledgeHit[]> {
    assertQuery(query, 'searchKnowledge');
    const url = this.#sessionRoute('searchKnowledge', 'knowledge');
    const searchParams: Record<string, string> = { q: query };
    if (options.limit !== undefined) searchParams.limit = String(options.limit);
    const response = await this.#send('GET', url, {
      searchParams,
      retry: 'idempotent',
      signal: options.signal,
    });
    return readList<KnowledgeHit>(response, url, 'results');
  }

  /** The documents of the session's knowledge. */
  async listKnowledge(options: RemoteCallOptions = {}): Promise<KnowledgeDocument[]> {
    const url = this.#sessionRoute('listKnowledge', 'knowledge');
    const response = await this.#send('GET', url, { retry: 'idempotent', signal: options.signal });
    return readList<KnowledgeDocument>(response, url, 'documents');
  }

  /** Removes a document from the session's knowledge; `NotFoundError` when it is not there. */
  async removeKnowledge(documentId: string, options: RemoteCallOptions = {}): Promise<void> {
    if (typeof documentId !== 'string' || documentId === '') {
      throw new InvalidInputError('removeKnowledge(documentId) takes a document id');
    }
    const url = this.#sessionRoute('removeKnowledge', 'knowledge', documentId);
    await this.#send('DELETE', url, { retry: 'delete', signal: options.signal });
  }

  // ---- internals ---------------------------------------------------------------------------

  #turnBody(message: string): Record<string, string> {
    return {
      message,
      ...(this.#sessionId !== undefined && { session_id: this.#sessionId }),
      ...(this.userId !== undefined && { user_id: this.userId }),
    };
  }

  /**
   * Takes the turn slot: while no session id is known, turns run one at a time, so every turn
   * lands in the session the first one's answer names. Returns the release (idempotent).
   */
  async #claim(): Promise<() => void> {
    while (this.#sessionId === undefined && this.#naming !== undefined) await this.#naming;
    if (this.#sessionId !== undefined) return () => {};
    let resolve!: () => void;
    const naming = new Promise<void>((done) => {
      resolve = done;
    });
    this.#naming = naming;
    return () => {
      if (this.#naming === naming) this.#naming = undefined;
      resolve();
    };
  }

  #adoptAnswer(answer: AgentAnswer): string {
    const content = answer.content ?? answer.response;
    if (typeof content !== 'string') throw protocolError(this.routes.agent, 'an answer without "content"');
    this.#adoptSessionId(answer.session_id);
    return content;
  }

  #adoptSessionId(id: unknown): void {
    if (id === undefined || id === null) return;
    try {
      assertSessionId(id);
    } catch (error) {
      throw protocolError(this.routes.agent, `an invalid session_id ${JSON.stringify(id)}`, error);
    }
    this.#sessionId = id;
  }

  #streamTurn(
    message: string,
    options: RemoteChatOptions,
    final: { resolve: (text: string) => void; reject: (error: unknown) => void },
  ): AsyncIterator<StreamChunk> {
    const controller = new AbortController();
    const outer = options.signal;
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener('abort', onAbort, { once: true });
    const url = this.routes.agent;
    let idle: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    // Runs only while waiting for the server, never while the caller holds a delta.
    const waiting: IdleTimer = {
      arm: () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          timedOut = true;
          controller.abort(new TimeoutError(`The agent at ${url} sent nothing for ${this.timeout} ms`));
        }, this.timeout);
      },
      clear: () => clearTimeout(idle),
    };
    const stop = (): void => {
      clearTimeout(idle);
      outer?.removeEventListener('abort', onAbort);
      if (!controller.signal.aborted) controller.abort();
    };

    const key = turnKey(options);
    const run = async function* (this: RemoteSession): AsyncGenerator<StreamChunk> {
      const release = await this.#claim();
      try {
        final.resolve(yield* this.#streamEvents(message, key, controller.signal, waiting));
      } catch (error) {
        const thrown = timedOut
          ? controller.signal.reason
          : SessionsError.is(error) || outer?.aborted
            ? error
            : new RemoteError('unavailable', `The stream from ${url} broke: ${reasonOf(error)}`, {
                url,
                cause: error,
              });
        final.reject(thrown);
        throw thrown;
      } finally {
        release();
      }
    }.call(this);

    return {
      next: async () => {
        try {
          const item = await run.next();
          if (item.done) stop();
          return item;
        } catch (error) {
          stop();
          throw error;
        }
      },
      return: async () => {
        stop();
        final.reject(new DOMException('The stream was closed early', 'AbortError'));
        await run.return(undefined).catch(() => undefined);
        return { done: true, value: undefined };
      },
    };
  }

  /** Opens the SSE answer of one turn and yields its deltas until `done`; returns the whole answer. */
  async *#streamEvents(
    message: string,
    key: string,
    signal: AbortSignal,
    waiting: IdleTimer,
  ): AsyncGenerator<StreamChunk, string> {
    const url = this.routes.agent;
    const response = await this.#send('POST', url, {
      json: this.#turnBody(message),
      headers: { 'idempotency-key': key, accept: 'text/event-stream' },
      retry: 'idempotent',
      signal,
    });
    const type = response.headers.get('content-type') ?? '';
    if (!type.includes('text/event-stream')) {
      // A server that does not stream answers JSON: one delta with the whole answer.
      const content = this.#adoptAnswer(await readJson<AgentAnswer>(response, url));
      if (content !== '') yield { delta: content };
      return content;
    }
    if (!response.body) throw protocolError(url, 'an empty event stream');
    const events = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream())
      .getReader();
    for (;;) {
      waiting.arm();
      const { done, value } = await events.read();
      waiting.clear();
      if (done) {
        throw new RemoteError(
          'unavailable',
          `The agent at ${url} ended the stream before the answer was done`,
          {
            url,
            status: response.status,
          },
        );
      }
      if (value.event === 'delta' || value.event === undefined) {
        const delta = (parseData(value.data, url) as { delta?: unknown }).delta;
        if (typeof delta === 'string' && delta !== '') yield { delta };
      } else if (value.event === 'done') {
        return this.#adoptAnswer(parseData(value.data, url) as AgentAnswer);
      } else if (value.event === 'error') {
        // The answer's status was 200 before the failure: the error has no status of its own.
        throw errorFromAnswer({ status: undefined, body: value.data, url, method: 'POST' });
      }
    }
  }

  #sessionRoute(method: string, ...rest: string[]): string {
    if (this.#sessionId === undefined) {
      throw new InvalidInputError(
        `remote.${method}() needs a session: pass sessionId to new RemoteSession(), or chat() first`,
      );
    }
    return this.routes.route('sessions', this.#sessionId, ...rest);
  }

  async #send(method: string, url: string, options: SendOptions): Promise<Response> {
    const { retry, ...rest } = options;
    const kyOptions: Options = {
      ...rest,
      method,
      retry: this.#retryOptions(retry),
      signal: options.signal,
    };
    // A delete retried after a network error may find its work done by the attempt whose answer
    // was lost: its 404 is then the answer to the call, not an error.
    let mayHaveActed = false;
    if (retry === 'delete') {
      kyOptions.hooks = {
        beforeRetry: [
          ({ error }) => {
            // A refused connection reached nothing: only another network error may have.
            if (!isHTTPError(error) && networkCode(error) !== 'ECONNREFUSED') mayHaveActed = true;
          },
        ],
      };
    }
    try {
      return await this.#ky(url, kyOptions);
    } catch (error) {
      if (mayHaveActed && isHTTPError(error) && error.response.status === 404) {
        await error.response.body?.cancel();
        return error.response;
      }
      throw await this.#failure(error, method, url, options.signal);
    }
  }

  #retryOptions(kind: RetryKind): RetryOptions {
    return {
      limit: this.#retries,
      methods: ['get', 'head', 'put', 'patch', 'post', 'delete', 'options'],
      statusCodes: [429, 503],
      afterStatusCodes: [429, 503],
      jitter: true,
      backoffLimit: 10_000,
      shouldRetry: ({ error }) => {
        if (isTimeoutError(error) || error.name === 'AbortError' || isBadPort(error)) return false;
        if (isHTTPError(error)) {
          const wait = retryAfterMs(error.response.headers.get('retry-after'));
          // Waiting longer than a request may take is not a retry: the caller gets the RateLimitError.
          return wait !== undefined && wait > this.timeout ? false : undefined;
        }
        // A request that may have reached the server is only repeated when it is idempotent.
        if (kind === 'once' && networkCode(error) !== 'ECONNREFUSED') return false;
        return undefined;
      },
    };
  }

  async #failure(
    error: unknown,
    method: string,
    url: string,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (SessionsError.is(error)) return error;
    if (signal?.aborted) return signal.reason ?? error;
    if (isHTTPError(error)) {
      const { response } = error;
      const body = await response.text().catch(() => '');
      return errorFromAnswer({
        status: response.status,
        statusText: response.statusText,
        body,
        url,
        method,
        retryAfter: response.headers.get('retry-after'),
      });
    }
    if (isTimeoutError(error)) {
      return Object.assign(
        new TimeoutError(`The agent at ${url} did not answer within ${this.timeout} ms`, { cause: error }),
        { url },
      );
    }
    return unreachable(url, error);
  }
}

interface IdleTimer {
  arm(): void;
  clear(): void;
}

interface SendOptions {
  retry: RetryKind;
  json?: unknown;
  body?: FormData;
  headers?: Record<string, string>;
  searchParams?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

function turnKey(options: RemoteChatOptions): string {
  const key = options.idempotencyKey ?? globalThis.crypto.randomUUID();
  if (typeof key !== 'string' || key === '' || key.length > 255) {
    throw new InvalidInputError('Invalid idempotencyKey: use 1-255 characters');
  }
  return key;
}

function assertMessage(message: unknown, method: string): asserts message is string {
  if (typeof message !== 'string' || message.trim() === '') {
    throw new InvalidInputError(`remote.${method}(message) takes a non-empty string`);
  }
}

function assertKey(key: unknown, method: string): asserts key is string {
  if (typeof key !== 'string' || key === '') {
    throw new InvalidInputError(`remote.${method}(key) takes a non-empty string`);
  }
}

function assertQuery(query: unknown, method: string): asserts query is string {
  if (typeof query !== 'string' || query.trim() === '') {
    throw new InvalidInputError(`remote.${method}(query) takes a non-empty string`);
  }
}

function reasonOf(error: unknown): string {
  return networkCode(error) ?? (error instanceof Error ? error.message : String(error));
}

function protocolError(url: string, what: string, cause?: unknown): RemoteError {
  return new RemoteError(
    'unavailable',
    `The agent at ${url} answered ${what}: is it a Sessions agent server?`,
    {
      url,
      ...(cause !== undefined && { cause }),
    },
  );
}

async function readJson<T>(response: Response, url: string): Promise<T> {
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw protocolError(url, `${response.status} with a body that is not JSON`, error);
  }
}

function parseData(data: string, url: string): unknown {
  try {
    return JSON.parse(data);
  } catch (error) {
    throw protocolError(url, 'an event whose data is not JSON', error);
  }
}

/** A search answer: `{ results: [...] }` or a bare array. */
/** The list under `key` of a JSON answer (`{ results: [...] }`), or the answer itself when it is a list. */
async function readList<T>(response: Response, url: string, key: string): Promise<T[]> {
  const body = await readJson<unknown>(response, url);
  const list = Array.isArray(body) ? body : (body as Record<string, unknown> | null)?.[key];
  if (!Array.isArray(list)) throw protocolError(url, `an answer without a "${key}" list`);
  return list as T[];
}

/** `GET /sessions/{id}` in either spelling (`sessionId` or the reference docs' `session_id`). */
function toContext(body: Record<string, unknown>): SessionContext {
  const pick = (camel: string, snake: string): unknown => body[camel] ?? body[snake];
  const agents = pick('agents', 'agents');
  return {
    ...body,
    sessionId: String(pick('sessionId', 'session_id')),
    userId: String(pick('userId', 'user_id')),
    createdAt: String(pick('createdAt', 'created_at')),
    updatedAt: String(pick('updatedAt', 'updated_at')),
    messageCount: Number(pick('messageCount', 'message_count') ?? 0),
    agents: Array.isArray(agents) ? agents.map(String) : [],
  };
}

/**
 * Reads `source` to its end at once into a `Channel`, keeping what it yields (and how it ended) for
 * the iterator it answers, which gives all of it in order, whenever it is read.
 */
function buffered<T>(source: AsyncIterator<T>): AsyncIterator<T> {
  const channel = new Channel<T>();
  const pump = (): void => {
    source.next().then(
      (item) => {
        if (item.done) return channel.end();
        channel.push(item.value);
        pump();
      },
      (error: unknown) => channel.fail(error),
    );
  };
  pump();
  const kept = channel[Symbol.asyncIterator]();
  return {
    next: () => kept.next(),
    return: async (): Promise<IteratorResult<T>> => {
      await kept.return?.();
      await source.return?.();
      return { done: true, value: undefined };
    },
  };
}
