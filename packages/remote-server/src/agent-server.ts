import {
  type ChatModel,
  InvalidInputError,
  type Middleware,
  NotConfiguredError,
  type SessionStore,
} from '@sessions/core';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { agentRoute } from './agent-route.js';
import {
  type AgentAnswer,
  type AgentSpec,
  AgentTurns,
  ClientGoneError,
  captureTurnResult,
} from './agent-turns.js';
import { ANONYMOUS, type AuthOptions, bearerAuthenticator } from './bearer-auth.js';
import { crossSiteGuard } from './cross-site-guard.js';
import { type ErrorAnswer, errorAnswer, HttpError } from './error-response.js';
import { IdempotencyCache, type IdempotencyOptions } from './idempotency-cache.js';
import { InflightTracker } from './inflight-tracker.js';
import { knowledgeRoutes } from './knowledge-routes.js';
import { type ListeningServer, type ListenOptions, listen } from './listen.js';
import { memoryRoutes } from './memory-routes.js';
import { nodeAgentRoute, type RequestLine } from './node-agent-route.js';
import { addressKey, RateLimiter, type RateLimitOptions, takeOrRefuse } from './rate-limiter.js';
import { requestIdOf } from './request-id.js';
import {
  clientLeftMidBody,
  hasRequestId,
  type Peer,
  peerOf,
  type RouteDeps,
  type ServerEnv,
} from './server-env.js';
import { flushLogger, type ServerLogger, serverLogger } from './server-logger.js';
import { type KnowledgeFactory, type MemoryFactory, SessionAccess } from './session-access.js';
import { sessionRoutes } from './session-routes.js';

/** Options of hono's `cors()` middleware: `{ origin, allowMethods, allowHeaders, exposeHeaders, credentials, maxAge }`. */
export type CorsOptions = NonNullable<Parameters<typeof cors>[0]>;

export interface AgentServerOptions {
  /** The agent every turn runs: its name, instructions, role, tools, and whether it uses memory and knowledge. */
  agent: AgentSpec;
  model: ChatModel;
  /** Where sessions (history and state) are kept: `FsSessionStore`, `KeyvSessionStore`, `MemorySessionStore`. */
  store: SessionStore;
  /** The memory store of a session. Needed for `agent.memory` and the memory routes. */
  memory?: MemoryFactory;
  /** The knowledge base of a session. Needed for `agent.knowledge` and the knowledge routes. */
  knowledge?: KnowledgeFactory;
  /** Bearer tokens mapped to principals. Without it every request is `'anonymous'` and only loopback may be bound. */
  auth?: AuthOptions;
  /** Largest request body in bytes. Default 10 MiB; larger bodies get 413. */
  bodyLimit?: number;
  /** Run around every turn (`@sessions/middleware`), the first outermost. */
  middleware?: Middleware[];
  /** Requests per principal per sliding window, in this process; more get 429 with `Retry-After`. Default: none. */
  rateLimit?: RateLimitOptions;
  /** Time allowed for one turn, in ms; past it the model call is cancelled and the answer is 504. Default 120 000; 0: none. */
  modelTimeoutMs?: number;
  /** Cross-origin requests from browsers: off unless given (hono's `cors()` options). */
  cors?: CorsOptions;
  /**
   * Where to log (pino or the same shape): one line per request with its `reqId`. Default pino on
   * stdout, buffered (see the README); `false`: none. Flushed (`flush()`, when it has one) when the
   * listening server closes.
   */
  logger?: ServerLogger | false;
  /** How long `POST /agent` answers are kept for their `Idempotency-Key`. */
  idempotency?: IdempotencyOptions;
  /**
   * Sessions kept alive between turns (an LRU), when the store has `loadSince` (`MemorySessionStore`,
   * `FsSessionStore`): the next turn of a kept session reads from the store only what was written
   * since (by other processes too) instead of the whole history. Default 1000; 0: none (every
   * turn loads its session whole).
   */
  liveSessions?: number;
  /** Called after `DELETE /sessions/{id}` removed a session: drop what else you keep for it (its knowledge base, say). */
  onSessionDelete?: (sessionId: string) => void | Promise<void>;
  /** Injectable clock, for tests. */
  now?: () => Date;
}

/** An agent served over HTTP. */
export interface AgentServer {
  /**
   * The web-standard handler, for any host that speaks `fetch` (Bun, Deno, workers, a Node adapter).
   * `env` is the host's bindings, passed on to Hono (`@hono/node-server` passes `{ incoming, outgoing }`).
   */
  fetch(request: Request, env?: unknown): Promise<Response>;
  /** The Hono app, to mount in a larger app or add routes to. */
  app: Hono<ServerEnv>;
  /** Listens on Node's HTTP server. Default `127.0.0.1:8000`. */
  listen(options?: ListenOptions): Promise<ListeningServer>;
}

/** 10 MiB. */
export const DEFAULT_BODY_LIMIT: number = 10 * 1024 * 1024;

/** Client addresses whose requests without a valid token are counted at once (the oldest dropped). */
const MAX_REFUSING_ADDRESSES = 10_000;

const ROUTES: ReadonlyArray<{ pattern: RegExp; methods: string[] }> = [
  { pattern: /^\/health$/, methods: ['GET'] },
  { pattern: /^\/agent$/, methods: ['POST'] },
  { pattern: /^\/sessions\/[^/]+$/, methods: ['GET', 'DELETE'] },
  { pattern: /^\/sessions\/[^/]+\/messages$/, methods: ['GET'] },
  { pattern: /^\/sessions\/[^/]+\/state$/, methods: ['GET', 'PUT', 'PATCH'] },
  { pattern: /^\/sessions\/[^/]+\/state\/[^/]+\/increment$/, methods: ['POST'] },
  { pattern: /^\/sessions\/[^/]+\/memory$/, methods: ['GET', 'POST', 'DELETE'] },
  { pattern: /^\/sessions\/[^/]+\/knowledge$/, methods: ['GET', 'POST'] },
  { pattern: /^\/sessions\/[^/]+\/knowledge\/[^/]+$/, methods: ['DELETE'] },
];

function validate(options: AgentServerOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidInputError('createAgentServer takes an options object: { agent, model, store }');
  }
  if (typeof options.agent?.name !== 'string' || options.agent.name.trim() === '') {
    throw new InvalidInputError('createAgentServer needs agent.name: { agent: { name: "Assistant" } }');
  }
  if (!options.model || typeof options.model.generate !== 'function') {
    throw new InvalidInputError(
      'createAgentServer needs a model: { model: new OpenAIChatModel({ model: "gpt-4o-mini" }) }',
    );
  }
  if (!options.store || typeof options.store.load !== 'function') {
    throw new InvalidInputError(
      'createAgentServer needs a store: { store: new FsSessionStore() } (or MemorySessionStore, which keeps nothing)',
    );
  }
  if (options.agent.memory && !options.memory) {
    throw new NotConfiguredError(
      `Agent "${options.agent.name}" asks for memory but the server has none: pass memory: (sessionId) => new Memory(...) to createAgentServer`,
    );
  }
  if (options.agent.knowledge && !options.knowledge) {
    throw new NotConfiguredError(
      `Agent "${options.agent.name}" asks for knowledge but the server has none: pass knowledge: (sessionId) => new Knowledge(...) to createAgentServer`,
    );
  }
  const limit = options.bodyLimit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new InvalidInputError(`bodyLimit must be a positive number of bytes, got ${limit}`);
  }
}

/**
 * An HTTP host for one agent and its sessions, speaking the wire protocol of DESIGN.md: `POST /agent`
 * (JSON or server-sent events), the session, history, state, memory and knowledge routes, and
 * `GET /health`. Build it once; serve it with `listen()` or hand `fetch` to any host.
 */
export function createAgentServer(options: AgentServerOptions): AgentServer {
  validate(options);
  const now = options.now ?? (() => new Date());
  const log = serverLogger(options.logger);
  const logs = options.logger !== false;
  const authenticate = options.auth ? bearerAuthenticator(options.auth) : undefined;
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  // Requests without a valid token, counted per client address (guessed tokens, floods of 401s).
  const refusals =
    limiter && authenticate
      ? new RateLimiter(options.rateLimit!, Date.now, MAX_REFUSING_ADDRESSES)
      : undefined;
  const access = new SessionAccess({
    store: options.store,
    model: options.model,
    memory: options.memory,
    knowledge: options.knowledge,
    middleware: [captureTurnResult, ...(options.middleware ?? [])],
    now,
    liveSessions: options.liveSessions,
  });
  const tracker = new InflightTracker();
  const deps: RouteDeps = {
    access,
    turns: new AgentTurns({
      access,
      agent: options.agent,
      modelTimeoutMs: options.modelTimeoutMs ?? 120_000,
      now,
    }),
    idempotency: new IdempotencyCache<AgentAnswer>(
      options.idempotency,
      (error) => error instanceof ClientGoneError,
    ),
    tracker,
    log,
    onSessionDelete: options.onSessionDelete,
  };

  /**
   * The principal of a request, or the 401 (or, counted per client address, 429) it gets. The
   * peer's address is read only for a refusal.
   */
  const authenticatePrincipal = (authorization: string | undefined, peer: Peer | undefined): string => {
    let principal = ANONYMOUS;
    if (authenticate) {
      const found = authenticate(authorization);
      if (found === undefined) {
        // Requests without a valid token count per client address: guessing tokens or flooding
        // sending refusals at speed is rate limited like any principal's requests.
        if (refusals) {
          const address = peer?.remoteAddress;
          takeOrRefuse(
            refusals,
            addressKey(address),
            `from ${address ?? 'an unknown address'} without a valid token`,
          );
        }
        throw new HttpError(
          'unauthorized',
          'Missing or unknown bearer token: send Authorization: Bearer <token>',
          { 'www-authenticate': 'Bearer realm="sessions"' },
        );
      }
      principal = found;
    }
    return principal;
  };
  /** The 429 of a principal over its rate limit. */
  const limit = (principal: string): void => {
    if (limiter) takeOrRefuse(limiter, principal, `for "${principal}"`);
  };
  /** The answer to an error, logged; `undefined` when the client went away (nobody to answer). */
  const failure = (error: unknown, reqId: string): ErrorAnswer | undefined => {
    if (error instanceof ClientGoneError) {
      log.info({ reqId }, 'turn cancelled: the client went away');
      return undefined;
    }
    const answer = errorAnswer(error, reqId);
    const code = answer.body.error.code;
    // A server fault with its error and stack; a refusal (401, 404, 429...) with what the client
    // was told, no stack: anyone can send those, and each would otherwise log kilobytes.
    if (answer.serverFault) log.error({ reqId, code, err: error }, 'request failed');
    else
      log.info({ reqId, code, status: answer.status, reason: answer.body.error.message }, 'request refused');
    return answer;
  };
  const logRequest = logs ? (line: RequestLine): void => log.info(line, 'request') : undefined;

  const app = new Hono<ServerEnv>();
  app.use(async function observe(c, next) {
    const started = performance.now();
    const end = tracker.begin();
    const requestId = requestIdOf(c.req.header('x-request-id'));
    c.set('requestId', requestId);
    c.set('principal', ANONYMOUS);
    try {
      await next();
    } finally {
      end();
      // Answers made by `answerJson` carry the header already (as plain headers, which Node's
      // adapter writes without building a web `Headers` object); the others get it here.
      if (!hasRequestId(c.res)) c.res.headers.set('x-request-id', requestId);
      logRequest?.({
        reqId: requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        principal: c.get('principal'),
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    }
  });
  if (options.cors) {
    app.use(
      cors({
        exposeHeaders: ['x-request-id', 'retry-after', 'idempotent-replayed'],
        ...options.cors,
      }),
    );
  }
  // Without tokens, what a browser sends on behalf of another site's page is refused (with them,
  // a browser never sends the token on its own).
  if (!options.auth) app.use(crossSiteGuard(options.cors));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  const maxBody = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const streamedBodyLimit = bodyLimit({
    maxSize: maxBody,
    onError: () => {
      throw new HttpError(
        'payload_too_large',
        `The request body is larger than ${maxBody} bytes (bodyLimit)`,
      );
    },
  });
  // Auth, then the rate limit, then the body limit: one middleware (each layer costs a promise).
  app.use(function guard(c, next) {
    const principal = authenticatePrincipal(c.req.header('authorization'), peerOf(c));
    c.set('principal', principal);
    limit(principal);
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    // A declared length is checked before reading (and reading stops there: Node's parser never
    // delivers more than it). A chunked body is counted as it streams in.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxBody) {
        throw new HttpError(
          'payload_too_large',
          `The request body is larger than ${maxBody} bytes (bodyLimit)`,
        );
      }
      return next();
    }
    return streamedBodyLimit(c, next).catch((error: unknown) => {
      // A chunked body cut short: the client went away while sending it (as in `readJson`).
      if (!(error instanceof HttpError) && clientLeftMidBody(c)) throw new ClientGoneError({ cause: error });
      throw error;
    });
  });
  agentRoute(app, deps);
  sessionRoutes(app, deps);
  memoryRoutes(app, deps);
  knowledgeRoutes(app, deps);

  app.notFound((c) => {
    const route = ROUTES.find(({ pattern }) => pattern.test(c.req.path));
    const error = route
      ? new HttpError(
          'method_not_allowed',
          `${c.req.method} is not allowed on ${c.req.path}: use ${route.methods.join(', ')}`,
          {
            allow: route.methods.join(', '),
          },
        )
      : new HttpError('not_found', `No route ${c.req.method} ${c.req.path}`);
    const answer = errorAnswer(error, c.get('requestId'));
    return c.json(answer.body, answer.status as 404, answer.headers);
  });
  app.onError((error, c) => {
    const answer = failure(error, c.get('requestId'));
    // Nobody is left to read an answer; 499 (as nginx logs it) marks the request in the log.
    if (answer === undefined) return c.body(null, 499 as 400);
    return c.json(answer.body, answer.status as 400, answer.headers);
  });
  // What the app is as built: `listen()` answers the plain `POST /agent` on Node itself while
  // nobody has added routes, middleware or an error handler to it.
  // (Hono's `errorHandler` is public in JavaScript, marked private in its types.)
  const errorHandlerOf = (): unknown => (app as unknown as { errorHandler: unknown }).errorHandler;
  const builtRoutes = app.routes.length;
  const builtErrorHandler = errorHandlerOf();
  const nodeRoute = options.cors
    ? undefined
    : nodeAgentRoute({
        deps,
        authenticate: authenticatePrincipal,
        limit,
        maxBody,
        leaveBrowsers: !options.auth,
        appUnchanged: () => app.routes.length === builtRoutes && errorHandlerOf() === builtErrorHandler,
        failure,
        logRequest,
      });

  const fetch = async (request: Request, env?: unknown): Promise<Response> => app.fetch(request, env);
  return {
    fetch,
    app,
    listen: (listenOptions) =>
      listen(
        // Node's adapter takes a Response or a promise of one: no extra promise per request.
        {
          fetch: app.fetch,
          nodeRoute,
          tracker,
          authConfigured: authenticate !== undefined,
          flushLogs: () => flushLogger(log),
          onForeignHost: (fields) => log.info(fields, 'request refused'),
        },
        listenOptions,
      ),
  };
}
