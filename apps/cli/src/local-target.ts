import { resolve } from 'node:path';
import {
  type Agent,
  ConflictError,
  type KnowledgeDocument,
  type KnowledgeHit,
  type MemoryHit,
  type MemoryRecord,
  type Message,
  NotFoundError,
  Session,
  type SessionContext,
} from '@sessions/core';
import type { IngestProgress } from '@sessions/knowledge';
import type { DemoAssembly } from '@sessions/server';
import type { SessionExport } from './session-export.js';
import type { SessionTarget } from './session-target.js';

export interface LocalTargetOptions {
  assembly: DemoAssembly;
  sessionId: string;
  userId?: string | undefined;
}

/** A session in the local data folder, through the same assembly as the demo server. */
export class LocalTarget implements SessionTarget {
  readonly mode = 'local' as const;
  readonly sessionId: string;
  readonly where: string;
  readonly offline: boolean;
  readonly #assembly: DemoAssembly;
  readonly #userId: string | undefined;
  #session: Promise<Session> | undefined;
  #agent: Agent | undefined;

  constructor(options: LocalTargetOptions) {
    this.#assembly = options.assembly;
    this.sessionId = options.sessionId;
    this.#userId = options.userId;
    this.where = `local data in ${resolve(options.assembly.dataDir)}`;
    this.offline = options.assembly.offline;
  }

  async exists(): Promise<boolean> {
    return (await this.#assembly.store.load(this.sessionId)) !== undefined;
  }

  async ensure(): Promise<void> {
    const session = await this.#open();
    if (!(await this.exists())) await session.saveState({});
  }

  async *stream(message: string, options: { signal?: AbortSignal } = {}): AsyncIterable<{ delta: string }> {
    const session = await this.#open();
    this.#agent ??= session.Agent(this.#assembly.agent);
    yield* this.#agent.stream(message, options);
  }

  async context(): Promise<SessionContext> {
    return (await this.#existing()).getContext();
  }

  async state(): Promise<Record<string, unknown>> {
    return (await this.#existing()).restoreState();
  }

  async saveState(data: Record<string, unknown>): Promise<void> {
    await (await this.#open()).saveState(data);
  }

  async messages(): Promise<Message[]> {
    return (await this.#existing()).messages();
  }

  async addMemory(text: string): Promise<MemoryRecord> {
    await this.ensure();
    return (await this.#open()).addMemory(text);
  }

  async searchMemory(query: string, limit: number): Promise<MemoryHit[]> {
    return (await this.#existing()).searchMemory(query, { limit });
  }

  async listMemory(): Promise<MemoryRecord[]> {
    const session = await this.#existing();
    return this.#assembly.resources.memory(this.sessionId).list(session.scope);
  }

  async addKnowledge(
    path: string,
    onProgress?: (progress: IngestProgress) => void,
  ): Promise<KnowledgeDocument> {
    await this.ensure();
    return this.#assembly.knowledge(this.sessionId).add({ path }, onProgress ? { onProgress } : {});
  }

  async searchKnowledge(query: string, limit: number): Promise<KnowledgeHit[]> {
    return (await this.#existing()).searchKnowledge(query, { limit });
  }

  async listKnowledge(): Promise<KnowledgeDocument[]> {
    await this.#existing();
    return this.#assembly.knowledge(this.sessionId).list();
  }

  async importSession(
    data: SessionExport,
    { stateOnly }: { stateOnly: boolean },
  ): Promise<{ messages: number }> {
    const { store } = this.#assembly;
    const stored = await store.load(this.sessionId);
    const messages = stateOnly ? [] : data.messages;
    if (messages.length > 0 && stored !== undefined && stored.messages.length > 0) {
      throw new ConflictError(
        `Session "${this.sessionId}" already has ${stored.messages.length} messages: import into a new one with --session <id>, or only the state with --state-only`,
      );
    }
    const session = new Session({
      sessionId: this.sessionId,
      store,
      userId: this.#userId ?? stored?.state?.userId ?? data.userId,
    });
    if (messages.length > 0) {
      await store.append(this.sessionId, messages, { idempotencyKey: `import-${data.exportedAt}` });
    }
    await session.restoreState();
    await session.saveState(data.state);
    this.#session = undefined;
    this.#agent = undefined;
    return { messages: messages.length };
  }

  async delete(): Promise<void> {
    if (!(await this.exists())) throw this.#notFound();
    this.#session = undefined;
    this.#agent = undefined;
    await this.#assembly.deleteSession(this.sessionId);
  }

  async close(): Promise<void> {
    await this.#assembly.close();
  }

  #open(): Promise<Session> {
    this.#session ??= this.#assembly.openSession({ sessionId: this.sessionId, userId: this.#userId });
    return this.#session;
  }

  /** The session, when something is stored for it (reads never create a session). */
  async #existing(): Promise<Session> {
    if (!(await this.exists())) throw this.#notFound();
    return this.#open();
  }

  #notFound(): NotFoundError {
    return new NotFoundError(
      `Session "${this.sessionId}" not found in ${this.#assembly.dataDir}: list them with \`sessions sessions list\``,
    );
  }
}
