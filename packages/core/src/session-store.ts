import type { Message } from './message.js';

/** The configuration of an agent made by `session.Agent(...)`, persisted with the session. */
export interface AgentConfig {
  name: string;
  role?: string;
  instructions?: string;
  memory?: boolean;
  knowledge?: boolean;
  tools?: string[];
}

/** Everything about a session except its history: kept in `state.json` by the file store. */
export interface SessionState {
  /** Format version of this record; readers refuse versions they do not know. */
  schemaVersion: 1;
  sessionId: string;
  userId: string;
  createdAt: string;
  updatedAt: string;
  /** The user's own key/value state (`saveState`, `setState`). */
  data: Record<string, unknown>;
  agents: AgentConfig[];
  metadata?: Record<string, unknown>;
}

/** What `SessionStore.load` returns: state (when ever saved) and the full history in order. */
export interface StoredSession {
  state: SessionState | undefined;
  messages: Message[];
}

/** One row of `SessionStore.list`. */
export interface SessionSummary {
  sessionId: string;
  userId: string | undefined;
  createdAt: string | undefined;
  updatedAt: string | undefined;
}

export interface AppendOptions {
  /** A repeated append with the same key (per session) is not stored twice. */
  idempotencyKey?: string;
}

export interface AppendResult {
  /** How many messages the session holds after this append (its last message's 1-based position). */
  seq: number;
}

export interface ListFilter {
  userId?: string;
}

/** History and state of many sessions. Implementations must lose nothing under concurrent appends. */
export interface SessionStore {
  /** The session's state and history, or `undefined` when nothing was ever stored for it. */
  load(sessionId: string): Promise<StoredSession | undefined>;
  /** Appends messages at the end of the history, durably, before resolving. */
  append(sessionId: string, messages: Message[], opts?: AppendOptions): Promise<AppendResult>;
  /** Replaces the session's state. */
  saveState(sessionId: string, state: SessionState): Promise<void>;
  list(filter?: ListFilter): AsyncIterable<SessionSummary>;
  /** Removes the session; deleting an unknown session is not an error. */
  delete(sessionId: string): Promise<void>;
}
