import { basename } from 'node:path';
import {
  InvalidInputError,
  type KnowledgeDocument,
  type KnowledgeHit,
  type MemoryHit,
  type MemoryRecord,
  type Message,
  type SessionContext,
  SessionsError,
} from '@sessions/core';
import type { IngestProgress } from '@sessions/knowledge';
import { RemoteError, RemoteSession } from '@sessions/remote-client';
import type { SessionExport } from './session-export.js';
import type { SessionTarget } from './session-target.js';

export interface RemoteTargetOptions {
  /** The server (`http://127.0.0.1:8000`) or its agent endpoint (`.../agent`). */
  url: string;
  sessionId: string;
  userId?: string | undefined;
  token?: string | undefined;
  /** Per request, in ms. Default 120 000. */
  timeout?: number;
}

/** A session on a remote agent server, through `RemoteSession`. */
export class RemoteTarget implements SessionTarget {
  readonly mode = 'remote' as const;
  readonly sessionId: string;
  readonly where: string;
  readonly offline: undefined = undefined;
  readonly remote: RemoteSession;
  readonly #headers: Record<string, string>;

  constructor(options: RemoteTargetOptions) {
    this.sessionId = options.sessionId;
    this.#headers = options.token ? { authorization: `Bearer ${options.token}` } : {};
    this.remote = new RemoteSession({
      agentUrl: options.url,
      sessionId: options.sessionId,
      timeout: options.timeout ?? 120_000,
      headers: this.#headers,
      ...(options.userId !== undefined && { userId: options.userId }),
    });
    this.where = `remote ${this.remote.routes.agent}`;
  }

  async exists(): Promise<boolean> {
    try {
      await this.remote.getContext();
      return true;
    } catch (error) {
      if (SessionsError.is(error) && error.code === 'not_found') return false;
      throw error;
    }
  }

  async ensure(): Promise<void> {
    if (!(await this.exists())) await this.remote.saveState({});
  }

  stream(message: string, options: { signal?: AbortSignal } = {}): AsyncIterable<{ delta: string }> {
    return this.remote.stream(message, options);
  }

  context(): Promise<SessionContext> {
    return this.remote.getContext();
  }

  state(): Promise<Record<string, unknown>> {
    return this.remote.state();
  }

  saveState(data: Record<string, unknown>): Promise<void> {
    return this.remote.saveState(data);
  }

  messages(): Promise<Message[]> {
    return this.remote.messages();
  }

  addMemory(text: string): Promise<MemoryRecord> {
    return this.remote.addMemory(text);
  }

  searchMemory(query: string, limit: number): Promise<MemoryHit[]> {
    return this.remote.searchMemory(query, { limit });
  }

  async listMemory(): Promise<MemoryRecord[]> {
    const body = await this.#get<{ memories?: MemoryRecord[] }>('memory');
    return body.memories ?? [];
  }

  async addKnowledge(
    path: string,
    onProgress?: (progress: IngestProgress) => void,
  ): Promise<KnowledgeDocument> {
    const source = basename(path);
    onProgress?.({ phase: 'load', done: 0, total: 1, source });
    const document = await this.remote.addKnowledge({ path });
    onProgress?.({ phase: 'index', done: 1, total: 1, source });
    return document;
  }

  searchKnowledge(query: string, limit: number): Promise<KnowledgeHit[]> {
    return this.remote.searchKnowledge(query, { limit });
  }

  async listKnowledge(): Promise<KnowledgeDocument[]> {
    const body = await this.#get<{ documents?: KnowledgeDocument[] }>('knowledge');
    return body.documents ?? [];
  }

  async importSession(
    data: SessionExport,
    { stateOnly }: { stateOnly: boolean },
  ): Promise<{ messages: number }> {
    if (!stateOnly && data.messages.length > 0) {
      throw new InvalidInputError(
        'A remote server takes no history over the wire: import the user state alone with --state-only, or import locally into the server data folder',
      );
    }
    await this.remote.saveState(data.state);
    return { messages: 0 };
  }

  delete(): Promise<void> {
    return this.remote.delete();
  }

  async close(): Promise<void> {}

  /** `GET /sessions/{id}/{what}` (the lists `RemoteSession` has no method for). */
  async #get<T>(what: string): Promise<T> {
    const url = this.remote.routes.route('sessions', this.sessionId, what);
    let response: Response;
    try {
      response = await fetch(url, { headers: { ...this.#headers, accept: 'application/json' } });
    } catch (error) {
      await this.remote.ping(); // throws the client's "Cannot reach agent at ..." error
      throw error;
    }
    const text = await response.text();
    if (!response.ok) {
      let message = `GET ${url} failed with ${response.status}`;
      let code: string | undefined;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (parsed.error?.message) message = `${parsed.error.message} (GET ${url}: ${response.status})`;
        code = parsed.error?.code;
      } catch {
        // not JSON: the status says it
      }
      const byStatus = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' } as const;
      const errorCode = byStatus[response.status as keyof typeof byStatus] ?? 'unavailable';
      throw new RemoteError(errorCode, message, {
        status: response.status,
        url,
        ...(code !== undefined && { remoteCode: code }),
      });
    }
    return JSON.parse(text) as T;
  }
}
