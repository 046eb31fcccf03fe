import { rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertSessionId, type MemoryRecord, type MemoryStore } from '@sessions/core';
import { Knowledge } from '@sessions/knowledge';
import { Memory } from '@sessions/memory';
import { LRUCache } from 'lru-cache';
import { hideMemories } from './hide-memories.js';

export interface SessionResourcesOptions {
  /**
   * The data folder: the memory of every session lives in `{dataDir}/memory.sqlite` (or, without
   * `sharedMemory`, each session's in `{dataDir}/{id}/memory/`), a session's knowledge in
   * `{dataDir}/{id}/knowledge/`.
   */
  dataDir: string;
  /**
   * One `Memory` for all sessions (default true): scopes keep sessions apart, and a memory added in
   * user scope is seen from every session of that user id. False: one per session, so nothing
   * (not even user-scoped memory) crosses sessions.
   */
  sharedMemory?: boolean;
  /** Most sessions whose memory and knowledge stay open at once; the least recently used are closed. Default 64. */
  maxOpen?: number;
  /** Memories that `search` never returns (see `hideMemories`). Default: none. */
  hideFromSearch?: (record: MemoryRecord) => boolean;
  /** Told when closing a store fails (the data is on disk already). Default `console.warn`. */
  onCloseError?: (error: unknown) => void;
}

interface Opened {
  /** The session's own memory; undefined when memory is shared. */
  memory: Memory | undefined;
  knowledge: Knowledge;
}

interface SharedMemory {
  memory: Memory;
  /** `memory` as the routes see it (`hideFromSearch` applied): one object, so sessions stay kept alive. */
  store: MemoryStore;
}

/**
 * The memory and knowledge of the sessions: one shared `Memory` (`{dataDir}/memory.sqlite`, or
 * one per session without `sharedMemory`) and a `Knowledge` base per session in its folder, opened
 * on first use and kept open for the next requests (the least recently used sessions' are closed
 * past `maxOpen`).
 */
export class SessionResources {
  readonly dataDir: string;
  /** Whether all sessions share one `Memory`. */
  readonly sharedMemory: boolean;
  readonly #options: SessionResourcesOptions;
  readonly #open: LRUCache<string, Opened>;
  readonly #closing = new Set<Promise<void>>();
  #shared: SharedMemory | undefined;

  constructor(options: SessionResourcesOptions) {
    this.#options = options;
    this.dataDir = resolve(options.dataDir);
    this.sharedMemory = options.sharedMemory ?? true;
    this.#open = new LRUCache<string, Opened>({
      max: options.maxOpen ?? 64,
      dispose: (opened) => this.#closeLater(opened),
    });
  }

  /** The folder of a session's data. */
  folder(sessionId: string): string {
    assertSessionId(sessionId);
    return join(this.dataDir, sessionId);
  }

  /** The session's `Memory`: the shared one (`{dataDir}/memory.sqlite`), or its own (`{dataDir}/{id}/memory/memory.sqlite`). */
  memory(sessionId: string): Memory {
    if (this.sharedMemory) {
      assertSessionId(sessionId);
      return this.#sharedMemory().memory;
    }
    return this.#get(sessionId).memory!;
  }

  /** The session's memory as the agent and the routes see it (`hideFromSearch` applied). */
  memoryStore(sessionId: string): MemoryStore {
    if (this.sharedMemory) {
      assertSessionId(sessionId);
      return this.#sharedMemory().store;
    }
    return this.#view(this.memory(sessionId));
  }

  /** The session's `Knowledge` (`{dataDir}/{id}/knowledge/knowledge.sqlite`). */
  knowledge(sessionId: string): Knowledge {
    return this.#get(sessionId).knowledge;
  }

  /**
   * Closes the session's stores and removes its memory and knowledge folders (and its folder, when
   * left empty). Its memories in a shared `Memory` are not touched: clear them with `{ sessionId }`.
   */
  async drop(sessionId: string): Promise<void> {
    const folder = this.folder(sessionId);
    const opened = this.#open.peek(sessionId);
    if (opened) {
      this.#open.delete(sessionId);
    }
    await this.#settle();
    await rm(join(folder, 'memory'), { recursive: true, force: true });
    await rm(join(folder, 'knowledge'), { recursive: true, force: true });
    // The session's folder too, when nothing else is in it (a store of its own keeps files there).
    await rmdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY') throw error;
    });
  }

  /** Closes every open store (flushing the search index snapshots). */
  async close(): Promise<void> {
    this.#open.clear();
    const shared = this.#shared;
    this.#shared = undefined;
    if (shared) this.#closeLater({ memory: shared.memory });
    await this.#settle();
  }

  #sharedMemory(): SharedMemory {
    if (!this.#shared) {
      const memory = new Memory({ path: this.dataDir });
      this.#shared = { memory, store: this.#view(memory) };
    }
    return this.#shared;
  }

  #view(memory: Memory): MemoryStore {
    const hidden = this.#options.hideFromSearch;
    return hidden === undefined ? memory : hideMemories(memory, hidden);
  }

  #get(sessionId: string): Opened {
    const cached = this.#open.get(sessionId);
    if (cached) return cached;
    const folder = this.folder(sessionId);
    const opened: Opened = {
      memory: this.sharedMemory ? undefined : new Memory({ path: join(folder, 'memory') }),
      knowledge: new Knowledge({ path: join(folder, 'knowledge') }),
    };
    this.#open.set(sessionId, opened);
    return opened;
  }

  #closeLater(opened: { memory?: Memory | undefined; knowledge?: Knowledge | undefined }): void {
    const onError =
      this.#options.onCloseError ?? ((error) => console.warn('[sessions] close failed:', error));
    const closing = Promise.all([
      opened.memory?.close().catch(onError),
      opened.knowledge?.close().catch(onError),
    ]).then(() => undefined);
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  async #settle(): Promise<void> {
    await Promise.all([...this.#closing]);
  }
}
