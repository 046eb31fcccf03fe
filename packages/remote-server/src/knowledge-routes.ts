import {
  InvalidInputError,
  type KnowledgeAddOptions,
  type KnowledgeSource,
  NotConfiguredError,
  NotFoundError,
} from '@sessions/core';
import type { Hono } from 'hono';
import {
  clientSignal,
  type RouteDeps,
  readJson,
  type ServerContext,
  type ServerEnv,
  sessionIdOf,
} from './server-env.js';
import { parseKnowledgeQuery, parseKnowledgeText } from './wire-schemas.js';

function requireKnowledge(deps: RouteDeps): void {
  if (!deps.access.knowledgeConfigured) {
    throw new NotConfiguredError(
      'This server has no knowledge base: start it with createAgentServer({ knowledge: (sessionId) => new Knowledge({ ... }) }) from @sessions/knowledge',
    );
  }
}

/** A client's file name reduced to a plain name: never a path, no control characters, at most 255 characters. */
export function safeFilename(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (clean === '' || clean === '.' || clean === '..') return 'upload';
  return clean.slice(-255);
}

function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidInputError(`Invalid form field ${name}: send it as text`);
  return value === '' ? undefined : value;
}

interface Upload {
  source: KnowledgeSource;
  options: KnowledgeAddOptions;
}

/** What the request carries: JSON text, a multipart file upload, or raw bytes. Never a path or a URL. */
async function readUpload(c: ServerContext): Promise<Upload> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  const signal = clientSignal(c);
  if (type.startsWith('multipart/form-data')) {
    let form: Record<string, string | File | (string | File)[]>;
    try {
      form = await c.req.parseBody({ all: true });
    } catch (error) {
      throw new InvalidInputError('Malformed multipart/form-data body', { cause: error });
    }
    const file = form.file;
    if (!(file instanceof File)) {
      throw new InvalidInputError('Upload the document as the form field "file" (one file)');
    }
    const id = optionalText(form.id, 'id');
    const title = optionalText(form.title, 'title');
    if (file.size === 0) throw new InvalidInputError('The uploaded file is empty');
    return {
      source: new Uint8Array(await file.arrayBuffer()),
      options: {
        filename: safeFilename(file.name),
        signal,
        ...(id !== undefined && { id }),
        ...(title !== undefined && { title }),
      },
    };
  }
  if (type.startsWith('application/octet-stream')) {
    const filename = c.req.query('filename');
    if (filename === undefined || filename === '') {
      throw new InvalidInputError('Name the uploaded bytes: ?filename=report.pdf (the type is read from it)');
    }
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength === 0) throw new InvalidInputError('The uploaded file is empty');
    const id = c.req.query('id');
    return {
      source: bytes,
      options: { filename: safeFilename(filename), signal, ...(id !== undefined && id !== '' && { id }) },
    };
  }
  const { text, title, id, metadata } = parseKnowledgeText(await readJson(c));
  return {
    source: title === undefined ? { text } : { text, title },
    options: { signal, ...(id !== undefined && { id }), ...(metadata !== undefined && { metadata }) },
  };
}

/**
 * `POST /sessions/{id}/knowledge` (text as JSON, or a file as multipart/form-data or raw bytes),
 * `GET` (search with `q`, else the documents), `DELETE /sessions/{id}/knowledge/{docId}`.
 */
export function knowledgeRoutes(app: Hono<ServerEnv>, deps: RouteDeps): void {
  const { access } = deps;

  app.post('/sessions/:id/knowledge', async (c) => {
    requireKnowledge(deps);
    const sessionId = sessionIdOf(c);
    const { source, options } = await readUpload(c);
    const session = await access.open(c.get('principal'), sessionId, { create: true, knowledge: true });
    return c.json(await session.addKnowledge(source, options), 201);
  });

  app.get('/sessions/:id/knowledge', async (c) => {
    requireKnowledge(deps);
    const sessionId = sessionIdOf(c);
    const { q, limit } = parseKnowledgeQuery(c.req.query());
    const session = await access.open(c.get('principal'), sessionId, { knowledge: true });
    if (q === undefined) return c.json({ documents: await session.knowledge!.list() });
    return c.json({ results: await session.searchKnowledge(q, limit === undefined ? {} : { limit }) });
  });

  app.delete('/sessions/:id/knowledge/:docId', async (c) => {
    requireKnowledge(deps);
    const sessionId = sessionIdOf(c);
    const docId = c.req.param('docId');
    const session = await access.open(c.get('principal'), sessionId, { knowledge: true });
    const removed = await session.knowledge!.remove(docId);
    if (!removed) throw new NotFoundError(`Document "${docId}" not found in session "${sessionId}"`);
    return c.body(null, 204);
  });
}
