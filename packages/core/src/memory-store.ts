/** Who a memory belongs to. A field left out means "any". */
export interface Scope {
  userId?: string;
  sessionId?: string;
  agentName?: string;
}

export interface MemoryInput {
  text: string;
  metadata?: Record<string, unknown>;
  /** ISO-8601 time or a Date; defaults to now. */
  createdAt?: string | Date;
}

export interface MemoryRecord {
  id: string;
  text: string;
  metadata: Record<string, unknown>;
  scope: Scope;
  createdAt: string;
}

export interface MemoryHit extends MemoryRecord {
  /** Relevance in [0, 1]; higher is better. */
  score: number;
}

export interface MemorySearchOptions {
  limit?: number;
  scope?: Scope;
  minScore?: number;
  /** Only memories whose metadata has each of these key/value pairs. */
  filter?: Record<string, unknown>;
}

/** Memories: short facts an agent should remember, searched by relevance. */
export interface MemoryStore {
  add(input: string | MemoryInput, scope?: Scope): Promise<MemoryRecord>;
  /** Best first. */
  search(query: string, opts?: MemorySearchOptions): Promise<MemoryHit[]>;
  list(scope?: Scope): Promise<MemoryRecord[]>;
  get(id: string): Promise<MemoryRecord | undefined>;
  /** Whether a memory was removed. */
  delete(id: string): Promise<boolean>;
  /** Removes every memory in `scope` (all of them when absent); returns how many. */
  clear(scope?: Scope): Promise<number>;
}
