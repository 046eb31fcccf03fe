import { rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertSessionId, type MemoryRecord, type MemoryStore } from '@sessions/core';
import { Knowledge } from '@sessions/knowledge';
import { Memory } from '@sessions/memory';
import { LRUCache } from 'lru-cache';
import { hideMemories } from './hide-memories.js';

export interface SessionResourcesOptions {
  /** The data folder: a session's memory lives in `{dataDir}/{id}/memory/`, its knowledge in `{dataDir}/{id}/knowledge/`. */
  dataDir: string;
  /** Most sessions whose memory and knowledge stay open at once; the least recently used are closed. Default 64. */
  maxOpen?: number;
  /** Memories that `search` never returns (see `hideMemories`). Default: none. */
  hideFromSearch?: (record: MemoryRecord) => boolean;
  /** Told when closing a store fails (the data is on disk already). Default `console.warn`. */
  onCloseError?: (error: unknown) => void;
}

interface Opened {
  memory: Memory;
  knowledge: Knowledge;
}

/**
 * The memory and knowledge of each session, each a SQLite file in the session's folder, opened on
 * first use and kept open for the next requests (the least recently used are closed past `maxOpen`).
 */
export class SessionResources {
  readonly dataDir: string;
  readonly #options: SessionResourcesOptions;
  readonly #open: LRUCache<string, Opened>;
  readonly #closing = new Set<Promise<void>>();

  constructor(options: SessionResourcesOptions) {
    this.#options = options;
    this.dataDir = resolve(options.dataDir);
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

  /** The session's `Memory` (`{dataDir}/{id}/memory/memory.sqlite`). */
  memory(sessionId: string): Memory {
    return this.#get(sessionId).memory;
  }

  /** The session's memory as the agent and the routes see it (`hideFromSearch` applied). */
  memoryStore(sessionId: string): MemoryStore {
    const memory = this.memory(sessionId);
    const hidden = this.#options.hideFromSearch;
    return hidden === undefined ? memory : hideMemories(memory, hidden);
  }

  /** The session's `Knowledge` (`{dataDir}/{id}/knowledge/knowledge.sqlite`). */
  knowledge(sessionId: string): Knowledge {
    return this.#get(sessionId).knowledge;
  }

  /** Closes the session's stores and removes its memory and knowledge folders (and its folder, when left empty). */
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
    await this.#settle();
  }

  #get(sessionId: string): Opened {
    const cached = this.#open.get(sessionId);
    if (cached) return cached;
    const folder = this.folder(sessionId);
    const opened: Opened = {
      memory: new Memory({ path: join(folder, 'memory') }),
      knowledge: new Knowledge({ path: join(folder, 'knowledge') }),
    };
    this.#open.set(sessionId, opened);
    return opened;
  }

  #closeLater(opened: Opened): void {
    const onError =
      this.#options.onCloseError ?? ((error) => console.warn('[sessions] close failed:', error));
    const closing = Promise.all([
      opened.memory.close().catch(onError),
      opened.knowledge.close().catch(onError),
    ]).then(() => undefined);
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  async #settle(): Promise<void> {
    await Promise.all([...this.#closing]);
  }
}
