// The servers that bench/remote-agent.mjs and bench/remote-agent-ab.mjs load: the rows of the
// table (CONFIGS) and how each kind of server starts, on an ephemeral port of 127.0.0.1.

export const TOKEN = 'bench-secret-token';
export const ANSWER = 'instant answer';

/**
 * What is measured. `sessions`: how many session ids the connections spread over (0: no
 * session_id, a new session per request). Rows with `group: 'memory'` are measured round by round
 * with the bare route, so their ratios come from the same minutes of this machine.
 */
export const CONFIGS = [
  { id: 'bare', name: 'bare Hono route, same JSON', kind: 'bare', sessions: 64, group: 'memory' },
  {
    id: 'raw',
    name: 'Node route without Hono, same JSON (what Hono and its Node adapter cost)',
    kind: 'raw',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'raw-batched',
    name: 'the same, answers written together at the end of each loop turn (what batching gives a bare route)',
    kind: 'raw-batched',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'raw-kept',
    name: 'Node route without Hono + a kept core Session: refresh() and a turn, no signal (the floor without Hono)',
    kind: 'raw-kept',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'core-turn',
    name: 'bare route + a new core Session and its turn (floor, new session per request)',
    kind: 'core-turn',
    sessions: 0,
    group: 'memory',
  },
  {
    id: 'core-kept',
    name: 'bare route + a kept core Session: refresh() and a turn (floor, 64 sessions)',
    kind: 'core-kept',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'core-kept-nosignal',
    name: 'the same without an AbortSignal (what cancellation costs)',
    kind: 'core-kept-nosignal',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'lean-new',
    name: 'remote-server, no auth/middleware/logs, new session per request',
    kind: 'lean',
    sessions: 0,
    group: 'memory',
  },
  {
    id: 'lean-64',
    name: 'remote-server, no auth/middleware/logs, 64 sessions (history grows)',
    kind: 'lean',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'full-new',
    name: 'remote-server, MemorySessionStore, new session per request',
    kind: 'full',
    sessions: 0,
    group: 'memory',
  },
  {
    id: 'full-64',
    name: 'remote-server, MemorySessionStore, 64 sessions (history grows)',
    kind: 'full',
    sessions: 64,
    group: 'memory',
  },
  {
    id: 'full-short',
    name: 'remote-server, MemorySessionStore, sessions of 10 turns (each connection starts another every 10 requests)',
    kind: 'full',
    sessions: 64,
    turnsPerSession: 10,
    group: 'memory',
  },
  {
    id: 'full-64-keyed',
    name: 'remote-server, MemorySessionStore, 64 sessions, each request with its own Idempotency-Key (as RemoteSession sends)',
    kind: 'full',
    sessions: 64,
    keyed: true,
    group: 'memory',
  },
  {
    id: 'full-64-nolog',
    name: 'the same without the two log lines (auth, limits, rateLimit middleware, history)',
    kind: 'full-nolog',
    sessions: 64,
    group: 'memory',
  },
  { id: 'fs-64', name: 'remote-server, FsSessionStore, 64 sessions', kind: 'fs', sessions: 64, group: 'fs' },
  { id: 'fs-1', name: 'remote-server, FsSessionStore, 1 session', kind: 'fs', sessions: 1, group: 'fs' },
];

function instantModel() {
  const reply = { content: ANSWER, usage: { inputTokens: 10, outputTokens: 2, totalTokens: 12 } };
  return {
    generate: async () => reply,
    async *stream() {
      yield { type: 'delta', delta: reply.content };
      yield { type: 'done', response: reply };
    },
  };
}

/**
 * A turn of the session's `Session`, kept in `kept` (made on first use): `refresh()`, then the
 * agent's turn, with `signal` when given.
 */
async function keptTurn(core, { kept, store, model }, sessionId, message, signal) {
  let live = kept.get(sessionId);
  if (!live) {
    const session = new core.Session({ sessionId, store, model, metadata: { owner: 'bench' } });
    live = { session, agent: session.Agent({ name: 'Bench Agent' }) };
    kept.set(sessionId, live);
  }
  await live.session.refresh();
  return live.agent.chat(message, signal ? { signal } : {});
}

/**
 * A route on Node's HTTP server alone (no Hono): reads the body, parses it, answers the same JSON;
 * `raw-kept` runs a kept core Session's turn in between, as `core-kept-nosignal` does on Hono.
 */
async function startRaw(kind, core) {
  const http = await import('node:http');
  const store = new core.MemorySessionStore();
  const model = instantModel();
  const kept = new Map();
  const answer = async (body) => {
    const sessionId = body.session_id ?? core.newId('sess');
    let content = ANSWER;
    if (kind === 'raw-kept') content = await keptTurn(core, { kept, store, model }, sessionId, body.message);
    return JSON.stringify({
      content,
      response: content,
      session_id: sessionId,
      metadata: { agent_name: 'Bench Agent', timestamp: new Date().toISOString() },
    });
  };
  // raw-batched: the answers ready in one loop turn are written together after it, as the
  // server's Node route writes them (its `writeBatch`).
  let pending = [];
  const flush = () => {
    const sends = pending;
    pending = [];
    for (const send of sends) send();
  };
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', async () => {
      const out = await answer(JSON.parse(Buffer.concat(chunks).toString()));
      const send = () => {
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(out),
        });
        response.end(out);
      };
      if (kind !== 'raw-batched') send();
      else if (pending.push(send) === 1) setImmediate(flush);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port, close: () => server.close() };
}

/** Starts the server of `kind` on an ephemeral port; returns its Node HTTP server and port. */
export async function startKind(kind, root) {
  const { serve: nodeServe } = await import('@hono/node-server');
  const { Hono } = await import('hono');
  const core = await import('@sessions/core');
  if (kind.startsWith('raw')) return startRaw(kind, core);
  if (kind === 'bare' || kind === 'core-turn' || kind.startsWith('core-kept')) {
    const store = new core.MemorySessionStore();
    const model = instantModel();
    const app = new Hono();
    // core-kept: what the server does per turn at least: one Session per session id, kept;
    // refresh() from the store, then a turn with its own AbortSignal (for cancellation).
    const kept = new Map();
    app.post('/agent', async (c) => {
      const body = await c.req.json();
      const sessionId = body.session_id ?? core.newId('sess');
      let content = ANSWER;
      if (kind === 'core-turn') {
        const session = new core.Session({ sessionId, store, model, metadata: { owner: 'bench' } });
        content = await session.Agent({ name: 'Bench Agent' }).chat(body.message);
      } else if (kind.startsWith('core-kept')) {
        const signal = kind === 'core-kept' ? new AbortController().signal : undefined;
        content = await keptTurn(core, { kept, store, model }, sessionId, body.message, signal);
      }
      return c.json({
        content,
        response: content,
        session_id: sessionId,
        metadata: { agent_name: 'Bench Agent', timestamp: new Date().toISOString() },
      });
    });
    const server = await new Promise((resolve) => {
      const started = nodeServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started));
    });
    return { server, port: server.address().port, close: () => server.close() };
  }
  const { createAgentServer, logDestination } = await import('@sessions/remote-server');
  const { logging, rateLimit } = await import('@sessions/middleware');
  const { pino } = await import('pino');
  const store =
    kind === 'fs'
      ? new (await import('@sessions/state-fs')).FsSessionStore({ root })
      : new core.MemorySessionStore();
  // Real logs (pino) and real limiters, written to /dev/null and set too high to refuse anything.
  // The destination is the server's default one (`logDestination`), to /dev/null.
  const sink = pino({ level: 'info' }, logDestination({ dest: '/dev/null' }));
  const logs = kind !== 'full-nolog';
  const agentServer = createAgentServer({
    agent: { name: 'Bench Agent', instructions: 'Answer briefly.' },
    model: instantModel(),
    store,
    ...(kind === 'lean'
      ? { logger: false }
      : {
          auth: { tokens: { [TOKEN]: 'bench' } },
          middleware: [
            ...(logs ? [logging({ logger: sink })] : []),
            rateLimit({ limit: 1e9, windowMs: 60_000 }),
          ],
          rateLimit: { limit: 1e9, windowMs: 60_000 },
          logger: logs ? sink : false,
        }),
  });
  const listening = await agentServer.listen({ port: 0, host: '127.0.0.1', shutdownTimeoutMs: 1_000 });
  return { server: listening.server, port: listening.port, close: () => listening.close() };
}
