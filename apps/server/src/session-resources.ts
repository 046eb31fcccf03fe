import { rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertSessionId, InvalidInputError, type MemoryRecord, type MemoryStore } from '@sessions/core';
import { Knowledge } from '@sessions/knowledge';
import { Memory } from '@sessions/memory';
import { ANONYMOUS } from '@sessions/remote-server';
import { LRUCache } from 'lru-cache';
import { hideMemories } from './hide-memories.js';
import { principalFolderName } from './principal-folder-name.js';

/** The folder of the principals' memories (`@` is no session id's character: no session folder can be it). */
export const PRINCIPAL_MEMORY_FOLDER = '@memory';

export interface SessionResourcesOptions {
  /**
   * The data folder: the memory of every session lives in `{dataDir}/memory.sqlite` (or, with
   * `sharedMemory: 'principal'`, each principal's in `{dataDir}/@memory/{name}-{hash}/`; with
   * `sharedMemory: false`, each session's in `{dataDir}/{id}/memory/`), a session's knowledge in
   * `{dataDir}/{id}/knowledge/`.
   */
  dataDir: string;
  /**
   * How sessions share memory. `true` (default): one `Memory` for all sessions; scopes keep
   * sessions apart, and a memory added in user scope is seen from every session of that user id.
   * `'principal'`: one `Memory` per principal (the session's owner), shared by that principal's
   * sessions: user scope crosses the sessions of one principal, never two principals, whatever
   * user id a client names. `false`: one per session, so nothing (not even user-scoped memory)
   * crosses sessions.
   */
  sharedMemory?: SharedMemoryMode;
  /** Most sessions whose memory and knowledge stay open at once; the least recently used are closed. Default 64. */
  maxOpen?: number;
  /** Memories that `search` never returns (see `hideMemories`). Default: none. */
  hideFromSearch?: (record: MemoryRecord) => boolean;
  /** Told when closing a store fails (the data is on disk already). Default `console.warn`. */
  onCloseError?: (error: unknown) => void;
}

/** How sessions share memory: all (`true`), per principal (`'principal'`), or not at all (`false`). */
export type SharedMemoryMode = boolean | 'principal';

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
 * The memory and knowledge of the sessions: one shared `Memory` (`{dataDir}/memory.sqlite`, one
 * per principal, or one per session: see `sharedMemory`) and a `Knowledge` base per session in its
 * folder, opened on first use and kept open for the next requests (the least recently used
 * sessions' are closed past `maxOpen`; the shared ones stay open until `close()`).
 */
export class SessionResources {
  readonly dataDir: string;
  /** Whether all sessions share one `Memory` (`true`), each principal's do (`'principal'`), or none (`false`). */
  readonly sharedMemory: SharedMemoryMode;
  readonly #options: SessionResourcesOptions;
  readonly #open: LRUCache<string, Opened>;
  readonly #closing = new Set<Promise<void>>();
  /** The shared memories: `''` for all sessions' (`sharedMemory: true`), else by principal folder. */
  readonly #shared = new Map<string, SharedMemory>();

  constructor(options: SessionResourcesOptions) {
    this.#options = options;
    this.dataDir = resolve(options.dataDir);
    const mode = options.sharedMemory ?? true;
    if (mode !== true && mode !== false && mode !== 'principal') {
      throw new InvalidInputError(
        `sharedMemory must be true, false or 'principal', got ${JSON.stringify(mode)}`,
      );
    }
    this.sharedMemory = mode;
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

  /**
   * The session's `Memory`: the shared one (`{dataDir}/memory.sqlite`), its owner's
   * (`{dataDir}/@memory/{name}-{hash}/memory.sqlite`, `principal` being the session's owner:
   * default `'anonymous'`, the owner of sessions made without auth), or its own
   * (`{dataDir}/{id}/memory/memory.sqlite`).
   */
  memory(sessionId: string, principal: string = ANONYMOUS): Memory {
    if (this.sharedMemory !== false) {
      assertSessionId(sessionId);
      return this.#sharedMemory(principal).memory;
    }
    return this.#get(sessionId).memory!;
  }

  /** The session's memory as the agent and the routes see it (`hideFromSearch` applied); see `memory`. */
  memoryStore(sessionId: string, principal: string = ANONYMOUS): MemoryStore {
    if (this.sharedMemory !== false) {
      assertSessionId(sessionId);
      return this.#sharedMemory(principal).store;
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
    for (const shared of this.#shared.values()) this.#closeLater({ memory: shared.memory });
    this.#shared.clear();
    await this.#settle();
  }

  #sharedMemory(principal: string): SharedMemory {
    if (typeof principal !== 'string' || principal === '') {
      throw new InvalidInputError('The principal of a session must be a non-empty string');
    }
    const key = this.sharedMemory === 'principal' ? principalFolderName(principal) : '';
    let shared = this.#shared.get(key);
    if (!shared) {
      const memory = new Memory({
        path: key === '' ? this.dataDir : join(this.dataDir, PRINCIPAL_MEMORY_FOLDER, key),
      });
      shared = { memory, store: this.#view(memory) };
      this.#shared.set(key, shared);
    }
    return shared;
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
      memory: this.sharedMemory !== false ? undefined : new Memory({ path: join(folder, 'memory') }),
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
