import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the wire server received. */
export interface WireRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  contentType: string;
  /** The raw body as bytes (for multipart uploads). */
  bytes: Buffer;
}

/** Answers one request; return `false` to fall through to the protocol handler. */
export type WireHandler = (req: WireRequest, res: ServerResponse) => unknown;

interface StoredSession {
  userId: string;
  createdAt: string;
  messages: Array<{ id: string; role: string; content: string; createdAt: string }>;
  state: Record<string, unknown>;
  memory: Array<{ id: string; text: string; metadata: Record<string, unknown> }>;
  knowledge: Array<{ id: string; source: string; title?: string; text: string }>;
}

/**
 * A small real HTTP server on 127.0.0.1 that speaks the remote agent wire protocol (JSON and SSE)
 * with an echo "model", plus scripted answers for failures. For the client's own tests; the
 * end-to-end tests use the real @sessions/remote-server.
 */
export interface WireServer {
  /** `http://127.0.0.1:<port>/agent` */
  agentUrl: string;
  requests: WireRequest[];
  sessions: Map<string, StoredSession>;
  /** How many times the model ran (a turn answered from the idempotency cache does not count). */
  modelRuns: number;
  /** Queue handlers for the next requests, first in first out. */
  script(...handlers: WireHandler[]): void;
  /** Requests to a path (`/agent`). */
  requestsTo(path: string): WireRequest[];
  /** Resolves when a request's connection closes before its answer ended. */
  disconnects: number;
  close(): Promise<void>;
}

const PAGE = 2;

export async function startWireServer(): Promise<WireServer> {
  const queue: WireHandler[] = [];
  const sessions = new Map<string, StoredSession>();
  const answered = new Map<string, Record<string, unknown>>();
  let counter = 0;
  const server: WireServer = {
    agentUrl: '',
    requests: [],
    sessions,
    modelRuns: 0,
    disconnects: 0,
    script: (...handlers) => queue.push(...handlers),
    requestsTo: (path) => server.requests.filter((req) => req.path === path),
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  const session = (id: string, userId = 'default_user'): StoredSession => {
    let found = sessions.get(id);
    if (!found) {
      found = {
        userId,
        createdAt: new Date().toISOString(),
        messages: [],
        state: {},
        memory: [],
        knowledge: [],
      };
      sessions.set(id, found);
    }
    return found;
  };

  const protocol = async (req: WireRequest, res: ServerResponse): Promise<void> => {
    const parts = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && req.path === '/health') return json(res, 200, { status: 'ok' });
    if (req.method === 'POST' && req.path === '/agent') {
      const body = JSON.parse(req.body) as {
        message?: string;
        query?: string;
        session_id?: string;
        user_id?: string;
      };
      const message = body.message ?? body.query;
      if (typeof message !== 'string' || message === '') {
        return json(res, 400, { error: { code: 'invalid_input', message: 'Send a non-empty "message"' } });
      }
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string' && answered.has(key)) return json(res, 200, answered.get(key));
      const id = body.session_id ?? `sess_${++counter}`;
      const stored = session(id, body.user_id);
      server.modelRuns++;
      const content = `Echo: ${message}`;
      const now = new Date().toISOString();
      stored.messages.push(
        { id: `m${stored.messages.length + 1}`, role: 'user', content: message, createdAt: now },
        { id: `m${stored.messages.length + 2}`, role: 'assistant', content, createdAt: now },
      );
      const answer = {
        content,
        response: content,
        session_id: id,
        metadata: { agent_name: 'Echo', timestamp: now },
      };
      if (typeof key === 'string') answered.set(key, answer);
      if (String(req.headers.accept).includes('text/event-stream')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const word of content.split(/(?<= )/)) sse(res, 'delta', { delta: word });
        sse(res, 'done', answer);
        res.end();
        return;
      }
      return json(res, 200, answer);
    }
    if (parts[0] !== 'sessions' || parts[1] === undefined) {
      return json(res, 404, { error: { code: 'not_found', message: `No route ${req.method} ${req.path}` } });
    }
    const id = parts[1];
    const stored = sessions.get(id);
    if (!stored) return json(res, 404, { error: { code: 'not_found', message: `No session "${id}"` } });
    const route = `${req.method} ${parts[2] ?? ''}`;
    switch (route) {
      case 'GET ':
        return json(res, 200, {
          sessionId: id,
          userId: stored.userId,
          createdAt: stored.createdAt,
          updatedAt: stored.createdAt,
          messageCount: stored.messages.length,
          agents: ['Echo'],
        });
      case 'DELETE ':
        sessions.delete(id);
        res.writeHead(204).end();
        return;
      case 'GET messages': {
        const offset = Number(req.query.get('offset') ?? 0);
        const limit = Math.min(Number(req.query.get('limit') ?? PAGE), PAGE);
        const messages = stored.messages.slice(offset, offset + limit);
        const next = offset + messages.length;
        return json(res, 200, {
          messages,
          total: stored.messages.length,
          offset,
          limit,
          nextOffset: next < stored.messages.length ? next : null,
        });
      }
      case 'GET state':
        return json(res, 200, { state: stored.state });
      case 'PATCH state':
        Object.assign(stored.state, JSON.parse(req.body));
        return json(res, 200, { state: stored.state });
      case 'POST state': {
        const key = parts[3] ?? '';
        const { by = 1, default: start = 0 } = JSON.parse(req.body || '{}');
        const value = Number(stored.state[key] ?? start) + by;
        stored.state[key] = value;
        return json(res, 200, { key, value });
      }
      case 'POST memory': {
        const { text, type = 'long', metadata = {} } = JSON.parse(req.body);
        const record = { id: `mem_${stored.memory.length + 1}`, text, metadata: { ...metadata, type } };
        stored.memory.push(record);
        return json(res, 201, { ...record, scope: { sessionId: id }, createdAt: new Date().toISOString() });
      }
      case 'GET memory': {
        const q = (req.query.get('q') ?? '').toLowerCase();
        const type = req.query.get('type');
        const hits = stored.memory
          .filter((m) => m.text.toLowerCase().includes(q) && (type === null || m.metadata.type === type))
          .slice(0, Number(req.query.get('limit') ?? 5))
          .map((m) => ({ ...m, score: 1 }));
        return json(res, 200, { results: hits });
      }
      case 'DELETE memory': {
        const type = req.query.get('type');
        const before = stored.memory.length;
        stored.memory = stored.memory.filter((m) => type !== null && m.metadata.type !== type);
        return json(res, 200, { deleted: before - stored.memory.length });
      }
      case 'POST knowledge': {
        let doc: StoredSession['knowledge'][number];
        if (req.contentType.startsWith('multipart/form-data')) {
          const form = await new Request('http://x/', {
            method: 'POST',
            headers: { 'content-type': req.contentType },
            body: req.bytes,
          }).formData();
          const file = form.get('file') as File;
          doc = { id: `doc_${stored.knowledge.length + 1}`, source: file.name, text: await file.text() };
        } else {
          const { text, title } = JSON.parse(req.body);
          doc = { id: `doc_${stored.knowledge.length + 1}`, source: 'text', title, text };
        }
        stored.knowledge.push(doc);
        return json(res, 201, {
          id: doc.id,
          source: doc.source,
          ...(doc.title !== undefined && { title: doc.title }),
          chunkCount: 1,
          addedAt: new Date().toISOString(),
        });
      }
      case 'GET knowledge': {
        const q = (req.query.get('q') ?? '').toLowerCase();
        const hits = stored.knowledge
          .filter((doc) => doc.text.toLowerCase().includes(q))
          .map((doc) => ({
            documentId: doc.id,
            source: doc.source,
            chunkIndex: 0,
            text: doc.text,
            score: 1,
            start: 0,
            end: doc.text.length,
          }));
        return json(res, 200, { results: hits });
      }
      default:
        return json(res, 404, {
          error: { code: 'not_found', message: `No route ${req.method} ${req.path}` },
        });
    }
  };

  const http = createServer((incoming: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
      const bytes = Buffer.concat(chunks);
      const req: WireRequest = {
        method: incoming.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: bytes.toString('utf8'),
        contentType: incoming.headers['content-type'] ?? '',
        bytes,
      };
      server.requests.push(req);
      res.on('close', () => {
        if (!res.writableFinished) server.disconnects++;
      });
      const handler = queue.shift();
      Promise.resolve(handler ? handler(req, res) : false)
        .then((result) => (result === false ? protocol(req, res) : undefined))
        .catch((error: unknown) => {
          if (!res.headersSent) json(res, 500, { error: { code: 'internal', message: String(error) } });
        });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  server.agentUrl = `http://127.0.0.1:${port}/agent`;
  return server;
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Resolves after `ms`, or when the response's connection closes. */
export function waitOrClose(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
