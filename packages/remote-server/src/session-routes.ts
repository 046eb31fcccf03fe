import type { Hono } from 'hono';
import { type RouteDeps, readJson, type ServerContext, type ServerEnv, sessionIdOf } from './server-env.js';
import { parseIncrement, parseMessagesQuery, parseStatePatch } from './wire-schemas.js';

/** Messages per page of `GET /sessions/{id}/messages` when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 100;

/** A page of a session's history. */
export interface MessagesPage<M> {
  messages: M[];
  /** Messages in the whole history. */
  total: number;
  offset: number;
  limit: number;
  /** The `offset` of the next page, or `null` on the last one. */
  nextOffset: number | null;
}

/** `GET/DELETE /sessions/{id}`, its history, and its user state. */
export function sessionRoutes(app: Hono<ServerEnv>, deps: RouteDeps): void {
  const { access } = deps;

  app.get('/sessions/:id', async (c) => {
    const session = await access.open(c.get('principal'), sessionIdOf(c));
    return c.json(session.getContext());
  });

  app.delete('/sessions/:id', async (c) => {
    const sessionId = sessionIdOf(c);
    await access.delete(c.get('principal'), sessionId);
    await deps.onSessionDelete?.(sessionId);
    return c.body(null, 204);
  });

  app.get('/sessions/:id/messages', async (c) => {
    const sessionId = sessionIdOf(c);
    const { offset = 0, limit = DEFAULT_PAGE_SIZE } = parseMessagesQuery(c.req.query());
    const session = await access.open(c.get('principal'), sessionId);
    const history = await session.history();
    const messages = history.slice(offset, offset + limit);
    const next = offset + messages.length;
    const page: MessagesPage<(typeof messages)[number]> = {
      messages,
      total: history.length,
      offset,
      limit,
      nextOffset: next < history.length ? next : null,
    };
    return c.json(page);
  });

  app.get('/sessions/:id/state', async (c) => {
    const session = await access.open(c.get('principal'), sessionIdOf(c));
    return c.json({ state: access.loadedState(session) });
  });

  const mergeState = async (c: ServerContext): Promise<Response> => {
    const sessionId = sessionIdOf(c);
    const patch = parseStatePatch(await readJson(c));
    const state = await access.update(c.get('principal'), sessionId, { create: true }, async (session) => {
      const merged = { ...access.loadedState(session), ...structuredClone(patch) };
      await session.saveState(patch);
      return merged;
    });
    return c.json({ state });
  };
  app.put('/sessions/:id/state', mergeState);
  app.patch('/sessions/:id/state', mergeState);

  app.post('/sessions/:id/state/:key/increment', async (c) => {
    const sessionId = sessionIdOf(c);
    const key = c.req.param('key');
    const { by = 1, default: start = 0 } = parseIncrement(await readJson(c, { optional: true }));
    const value = await access.update(c.get('principal'), sessionId, { create: true }, (session) =>
      session.incrementState(key, by, start),
    );
    return c.json({ key, value });
  });
}
