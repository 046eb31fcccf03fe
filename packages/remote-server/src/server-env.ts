import { assertSessionId, InvalidInputError } from '@sessions/core';
import type { Context } from 'hono';
import { type AgentAnswer, type AgentTurns, ClientGoneError } from './agent-turns.js';
import type { IdempotencyCache } from './idempotency-cache.js';
import type { InflightTracker } from './inflight-tracker.js';
import type { ServerLogger } from './server-logger.js';
import type { SessionAccess } from './session-access.js';

/** What the server's middleware puts on each request's context. */
export interface ServerVariables {
  /** From `X-Request-Id` when the client sent a usable one, else generated; echoed in the answer. */
  requestId: string;
  /** Who the request speaks for: the bearer token's principal, or `'anonymous'` without auth. */
  principal: string;
}

/** The Hono environment of the server's app. */
export interface ServerEnv {
  Variables: ServerVariables;
}

export type ServerContext = Context<ServerEnv>;

/** What the routes share. */
export interface RouteDeps {
  access: SessionAccess;
  turns: AgentTurns;
  idempotency: IdempotencyCache<AgentAnswer>;
  tracker: InflightTracker;
  log: ServerLogger;
  onSessionDelete: ((sessionId: string) => void | Promise<void>) | undefined;
}

/**
 * The request body parsed as JSON; `InvalidInputError` when it is not JSON, or empty (unless
 * `optional`: then an empty body is `{}`).
 */
export function readJson(
  c: ServerContext,
  { optional = false }: { optional?: boolean } = {},
): Promise<unknown> {
  return c.req.text().then(
    (text) => parseJsonBody(text, optional),
    (error: unknown) => {
      if (clientLeftMidBody(c)) throw new ClientGoneError({ cause: error });
      throw error;
    },
  );
}

/** Whether Node's request ended before its body did: the client went away while sending it. */
export function clientLeftMidBody(c: ServerContext): boolean {
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  return incoming !== undefined && incoming.complete === false;
}

/** A request body's text parsed as JSON (see `readJson`). */
export function parseJsonBody(text: string, optional = false): unknown {
  if (text.trim() === '') {
    if (optional) return {};
    throw new InvalidInputError('The request body is empty: send a JSON object');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? ` (${error.message})` : '';
    throw new InvalidInputError(`Malformed JSON in the request body${reason}`);
  }
}

const REQUEST_ID_SET = Symbol('sessions.remote-server.requestIdSet');

/**
 * A JSON answer with the request id among its headers, given as a plain object: on Node the
 * adapter writes those straight out, where `c.json` after a prepared header (or with more than
 * one header) builds a web `Headers` object first, a measurable cost on a hot route.
 */
export function answerJson(
  c: ServerContext,
  body: unknown,
  status = 200,
  headers?: Record<string, string>,
): Response {
  const response = new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': c.get('requestId'), ...headers },
  });
  (response as unknown as Record<symbol, boolean>)[REQUEST_ID_SET] = true;
  return response;
}

/** Whether `answerJson` made `response` (so it carries the request id). */
export function hasRequestId(response: Response): boolean {
  return (response as unknown as Record<symbol, boolean>)[REQUEST_ID_SET] === true;
}

/** Aborts when the client goes away (made on first use: it costs an `AbortController`). */
export function clientSignal(c: ServerContext): AbortSignal {
  return c.req.raw.signal;
}

/**
 * Watches for the client going away before its answer is complete: calls `onGone` once, and returns
 * a function that stops watching.
 */
export type ClientWatch = (onGone: (reason: unknown) => void) => () => void;

/** What the server reads of Node's response (`@hono/node-server`'s `outgoing` binding). */
export interface NodeOutgoing {
  writableFinished: boolean;
  destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** Where a request came from: Node's socket, whose `remoteAddress` is read only when asked. */
export interface Peer {
  readonly remoteAddress?: string | undefined;
}

interface NodeBindings {
  incoming?: { socket?: Peer; complete?: boolean };
  outgoing?: NodeOutgoing;
}

/** The request's peer on Node (`@hono/node-server` bindings); `undefined` on other hosts. */
export function peerOf(c: ServerContext): Peer | undefined {
  return (c.env as NodeBindings | undefined)?.incoming?.socket;
}

/**
 * A `ClientWatch` for the request. On Node (`@hono/node-server` bindings) it listens for the
 * response's `close` before it finished (see `watchOutgoing`); on other hosts it uses the
 * request's signal.
 */
export function watchClient(c: ServerContext): ClientWatch {
  const outgoing = (c.env as NodeBindings | undefined)?.outgoing;
  if (outgoing && typeof outgoing.once === 'function') return watchOutgoing(outgoing);
  return (onGone) => {
    const signal = clientSignal(c);
    const onAbort = (): void => onGone(signal.reason);
    if (signal.aborted) {
      onAbort();
      return () => {};
    }
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  };
}

/**
 * A `ClientWatch` on Node's response: the client is gone when the response closes before it
 * finished, as `@hono/node-server` itself tells. It costs far less than the request's
 * `AbortSignal` (each `AbortController` is expensive on Node 20).
 */
export function watchOutgoing(outgoing: NodeOutgoing): ClientWatch {
  return (onGone) => {
    const reason = (): Error => new Error('The client closed the connection');
    if (outgoing.destroyed && !outgoing.writableFinished) {
      onGone(reason());
      return () => {};
    }
    const onClose = (): void => {
      if (!outgoing.writableFinished) onGone(reason());
    };
    outgoing.once('close', onClose);
    return () => outgoing.off('close', onClose);
  };
}

/** The `{id}` of a `/sessions/{id}` path, checked like every session id. */
export function sessionIdOf(c: ServerContext): string {
  const id = c.req.param('id');
  assertSessionId(id);
  return id;
}
