import type {
  KnowledgeDocument,
  KnowledgeHit,
  MemoryHit,
  MemoryRecord,
  Message,
  SessionContext,
} from '@sessions/core';
import type { IngestProgress } from '@sessions/knowledge';
import type { SessionExport } from './session-export.js';

/** What a command works on: one session, here (the data folder) or on a remote agent server. */
export interface SessionTarget {
  readonly mode: 'local' | 'remote';
  readonly sessionId: string;
  /** `local data in /abs/.sessions` or `remote http://127.0.0.1:8000/agent`. */
  readonly where: string;
  /** Whether answers come from the offline model (known locally only). */
  readonly offline: boolean | undefined;
  /** Whether anything is stored for the session. */
  exists(): Promise<boolean>;
  /** Makes sure the session is stored (writes create it). */
  ensure(): Promise<void>;
  /** One turn, streamed. */
  stream(message: string, options?: { signal?: AbortSignal }): AsyncIterable<{ delta: string }>;
  context(): Promise<SessionContext>;
  /** The user state. */
  state(): Promise<Record<string, unknown>>;
  saveState(data: Record<string, unknown>): Promise<void>;
  messages(): Promise<Message[]>;
  addMemory(text: string): Promise<MemoryRecord>;
  searchMemory(query: string, limit: number): Promise<MemoryHit[]>;
  listMemory(): Promise<MemoryRecord[]>;
  addKnowledge(path: string, onProgress?: (progress: IngestProgress) => void): Promise<KnowledgeDocument>;
  searchKnowledge(query: string, limit: number): Promise<KnowledgeHit[]>;
  listKnowledge(): Promise<KnowledgeDocument[]>;
  /**
   * Writes an export into this session: its history (only into a session with none) and user
   * state, or with `stateOnly` the user state alone. Resolves to how many messages were written.
   */
  importSession(data: SessionExport, options: { stateOnly: boolean }): Promise<{ messages: number }>;
  delete(): Promise<void>;
  close(): Promise<void>;
}
