import type { MemoryHit, MemoryRecord, MemorySearchOptions, MemoryStore, Scope } from '@sessions/core';

/** Largest number of hits one `search` asks the store for while looking past hidden ones. */
const MAX_FETCH = 1000;

/**
 * A view of `memory` whose `search` never returns the memories `hidden` picks (they are still
 * stored, listed and counted); it asks the store for more hits until `limit` visible ones are found
 * or the store has no more. The demo's offline mode hides its own answers and the questions the
 * user asked (both kept by `remember: 'turns'`), so they never crowd out what the user told it.
 */
export function hideMemories(memory: MemoryStore, hidden: (record: MemoryRecord) => boolean): MemoryStore {
  return {
    add: (input, scope?: Scope) => memory.add(input, scope),
    async search(query: string, options: MemorySearchOptions = {}): Promise<MemoryHit[]> {
      const limit = options.limit ?? 5;
      if (!Number.isInteger(limit) || limit < 1) return memory.search(query, options); // its error
      let fetch = Math.min(limit * 4 + 20, MAX_FETCH);
      while (true) {
        const hits = await memory.search(query, { ...options, limit: fetch });
        const visible = hits.filter((hit) => !hidden(hit));
        if (visible.length >= limit || hits.length < fetch || fetch >= MAX_FETCH)
          return visible.slice(0, limit);
        fetch = Math.min(fetch * 4, MAX_FETCH);
      }
    },
    list: (scope?: Scope) => memory.list(scope),
    get: (id: string) => memory.get(id),
    delete: (id: string) => memory.delete(id),
    clear: (scope?: Scope) => memory.clear(scope),
  };
}
