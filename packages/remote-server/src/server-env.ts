import { assertSessionId, InvalidInputError } from '@sessions/core';
import type { Context } from 'hono';
import type { AgentAnswer, AgentTurns } from './agent-turns.js';
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
  /** Aborts when the client goes away. */
  signal: AbortSignal;
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
export async function readJson(
  c: ServerContext,
  { optional = false }: { optional?: boolean } = {},
): Promise<unknown> {
  const text = await c.req.text();
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

/** The `{id}` of a `/sessions/{id}` path, checked like every session id. */
export function sessionIdOf(c: ServerContext): string {
  const id = c.req.param('id');
  assertSessionId(id);
  return id;
}
