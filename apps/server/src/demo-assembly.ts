import { resolve } from 'node:path';
import {
  type AgentOptions,
  type ChatModel,
  type MemoryRecord,
  type MemoryStore,
  Session,
  type SessionStore,
} from '@sessions/core';
import type { Knowledge } from '@sessions/knowledge';
import type { SessionFactoryContext } from '@sessions/remote-server';
import { modelFromEnv } from './model-from-env.js';
import { OFFLINE_PREFIX } from './offline-model.js';
import { SessionResources, type SharedMemoryMode } from './session-resources.js';
import { sessionStoreFromUrl } from './session-store-from-url.js';

export interface DemoAssemblyOptions {
  /** Where sessions, memory and knowledge live. Default `'.sessions'`. */
  dataDir?: string;
  /** The session store (see `sessionStoreFromUrl`). Default: in `dataDir`. */
  storeUrl?: string | undefined;
  /** Where `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_MODEL` are read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** The model name (overrides `OPENAI_MODEL`). */
  model?: string | undefined;
  /** Answer offline even when a model is configured. */
  offline?: boolean | undefined;
  /** Use this chat model instead of the one the environment names (it is then not offline). */
  chatModel?: ChatModel;
  /** Most sessions with their knowledge open at once. Default 64. */
  maxOpenSessions?: number;
  /**
   * One `Memory` for all sessions, `{dataDir}/memory.sqlite` (default true): a memory added in user
   * scope is seen from every session of that user id. `'principal'`: one per principal (the
   * session's owner), `{dataDir}/@memory/{name}-{hash}/`: user scope crosses the sessions of one
   * principal only, whatever user id a client names (the server's choice with tokens of several
   * principals). False: a `Memory` per session, so nothing crosses sessions.
   */
  sharedMemory?: SharedMemoryMode | undefined;
}

/** The agent of the demo, without session and model. */
export type DemoAgentOptions = Omit<AgentOptions, 'session' | 'model'>;

export interface OpenSessionOptions {
  sessionId: string;
  userId?: string | undefined;
  /** The session's owner, whose memory it uses with `sharedMemory: 'principal'`. Default `'anonymous'`. */
  principal?: string | undefined;
}

/** Every part of the demo, assembled once and shared by the server and the CLI's local mode. */
export interface DemoAssembly {
  /** The absolute data folder. */
  dataDir: string;
  store: SessionStore;
  storeDescription: string;
  model: ChatModel;
  /** True when no model is configured: the `OfflineModel` answers. */
  offline: boolean;
  modelDescription: string;
  /** The agent every turn runs: memory and knowledge in its prompt, what is said remembered. */
  agent: DemoAgentOptions;
  /** The memory (shared, per principal, or per session) and the per-session knowledge stores. */
  resources: SessionResources;
  /**
   * The memory of a session, as the agent sees it. `owner` picks the principal's memory with
   * `sharedMemory: 'principal'` (default `'anonymous'`); the remote server's memory factory.
   */
  memory(sessionId: string, owner?: SessionFactoryContext): MemoryStore;
  knowledge(sessionId: string): Knowledge;
  /** A local `Session` over these parts (the CLI's local mode), its history and state loaded. */
  openSession(options: OpenSessionOptions): Promise<Session>;
  /** Removes a session: its memories (in `owner`'s memory, see `memory`), history, state and knowledge. */
  deleteSession(sessionId: string, owner?: SessionFactoryContext): Promise<void>;
  /** Drops what is kept beside the store for a deleted session (its memory and knowledge folders). */
  onSessionDelete(sessionId: string): Promise<void>;
  /** Closes the stores (flushing search index snapshots). */
  close(): Promise<void>;
}

export const DEMO_AGENT_NAME = 'Assistant';

const INSTRUCTIONS =
  'You are the assistant of the Sessions demo. Answer briefly and plainly. Use the relevant memories ' +
  '(what the user told you before) and the knowledge passages when they help, and cite passages as [n].';

/**
 * What the offline model should not quote: its own answers, and the questions the user asked
 * (kept as memories by `remember: 'turns'`; a question tells nothing about the user, and past
 * questions like the current one would outrank what the user told it).
 */
export function offlineNoise(record: MemoryRecord): boolean {
  if (record.text.startsWith(OFFLINE_PREFIX)) return true;
  return record.metadata.source === 'turn' && record.text.trim().endsWith('?');
}

/**
 * Assembles the demo: a session store, a model from the environment (or the offline model), one
 * `Memory` on SQLite for all sessions (their scopes keep them apart), or one per principal (see
 * `sharedMemory`), and for
 * each session a `Knowledge` base on SQLite in its folder. The server and the CLI's local mode both
 * use it, so a session behaves the same whichever way it is reached.
 */
export async function createDemoAssembly(options: DemoAssemblyOptions = {}): Promise<DemoAssembly> {
  const dataDir = resolve(options.dataDir ?? '.sessions');
  const configured = options.chatModel
    ? { model: options.chatModel, offline: false, description: 'the given model' }
    : modelFromEnv({
        ...(options.env !== undefined && { env: options.env }),
        ...(options.model !== undefined && { model: options.model }),
        ...(options.offline !== undefined && { offline: options.offline }),
      });
  const opened = await sessionStoreFromUrl({ url: options.storeUrl, dataDir });
  const resources = new SessionResources({
    dataDir,
    ...(options.maxOpenSessions !== undefined && { maxOpen: options.maxOpenSessions }),
    ...(options.sharedMemory !== undefined && { sharedMemory: options.sharedMemory }),
    ...(configured.offline && { hideFromSearch: offlineNoise }),
  });
  const agent: DemoAgentOptions = {
    name: DEMO_AGENT_NAME,
    instructions: INSTRUCTIONS,
    memory: true,
    knowledge: true,
    remember: 'turns',
  };
  const onSessionDelete = (sessionId: string): Promise<void> => resources.drop(sessionId);
  return {
    dataDir,
    store: opened.store,
    storeDescription: opened.description,
    model: configured.model,
    offline: configured.offline,
    modelDescription: configured.description,
    agent,
    resources,
    memory: (sessionId, owner) => resources.memoryStore(sessionId, owner?.principal),
    knowledge: (sessionId) => resources.knowledge(sessionId),
    async openSession({ sessionId, userId, principal }) {
      const session = new Session({
        sessionId,
        store: opened.store,
        model: configured.model,
        memory: resources.memoryStore(sessionId, principal),
        knowledge: resources.knowledge(sessionId),
        ...(userId !== undefined && { userId }),
      });
      await session.restoreState();
      return session;
    },
    async deleteSession(sessionId, owner) {
      await resources.memory(sessionId, owner?.principal).clear({ sessionId });
      await opened.store.delete(sessionId);
      await onSessionDelete(sessionId);
    },
    onSessionDelete,
    async close() {
      await resources.close();
      await opened.close();
    },
  };
}
