import { NotConfiguredError } from '@sessions/core';
import type { Hono } from 'hono';
import { type RouteDeps, readJson, type ServerEnv, sessionIdOf } from './server-env.js';
import { parseMemoryQuery, parseMemoryRequest } from './wire-schemas.js';

function requireMemory(deps: RouteDeps): void {
  if (!deps.access.memoryConfigured) {
    throw new NotConfiguredError(
      'This server has no memory: start it with createAgentServer({ memory: (sessionId) => new Memory({ ... }) }) from @sessions/memory',
    );
  }
}

/** `POST /sessions/{id}/memory` (add), `GET` (search with `q`, else list), `DELETE` (clear). */
export function memoryRoutes(app: Hono<ServerEnv>, deps: RouteDeps): void {
  const { access } = deps;

  app.post('/sessions/:id/memory', async (c) => {
    requireMemory(deps);
    const sessionId = sessionIdOf(c);
    const { text, type, metadata, scope } = parseMemoryRequest(await readJson(c));
    const session = await access.open(c.get('principal'), sessionId, { create: true, memory: true });
    const record = await session.addMemory(text, {
      ...(type !== undefined && { type }),
      ...(metadata !== undefined && { metadata }),
      ...(scope !== undefined && { scope }),
    });
    return c.json(record, 201);
  });

  app.get('/sessions/:id/memory', async (c) => {
    requireMemory(deps);
    const sessionId = sessionIdOf(c);
    const { q, limit, type } = parseMemoryQuery(c.req.query());
    const session = await access.open(c.get('principal'), sessionId, { memory: true });
    if (q === undefined) {
      const memories = await session.memory!.list(session.scope);
      return c.json({
        memories: type === undefined ? memories : memories.filter((m) => m.metadata.type === type),
      });
    }
    const results = await session.searchMemory(q, {
      ...(limit !== undefined && { limit }),
      ...(type !== undefined && { type }),
    });
    return c.json({ results });
  });

  app.delete('/sessions/:id/memory', async (c) => {
    requireMemory(deps);
    const sessionId = sessionIdOf(c);
    const { type } = parseMemoryQuery(c.req.query());
    const session = await access.open(c.get('principal'), sessionId, { memory: true });
    const deleted = await session.clearMemory(type);
    return c.json({ deleted });
  });
}
