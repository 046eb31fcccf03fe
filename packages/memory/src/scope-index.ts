import type { Scope } from '@sessions/core';

/** Which bucket a memory is kept in: its session's, else its user's, else the shared one. */
function bucketOf(scope: Scope): string {
  if (scope.sessionId !== undefined) return `s\n${scope.sessionId}`;
  if (scope.userId !== undefined) return `u\n${scope.userId}`;
  return '*';
}

/**
 * The ids of the memories in each bucket (a session's, a user's outside sessions, the rest), so
 * what a session sees is read from three buckets instead of every memory of a shared store.
 */
export class ScopeIndex {
  readonly #buckets = new Map<string, Set<string>>();
  /** The order memories were added in, so candidates come out as a scan of every memory would. */
  readonly #order = new Map<string, number>();
  #added = 0;

  add(id: string, scope: Scope): void {
    if (!this.#order.has(id)) this.#order.set(id, this.#added++);
    const key = bucketOf(scope);
    let ids = this.#buckets.get(key);
    if (ids === undefined) {
      ids = new Set();
      this.#buckets.set(key, ids);
    }
    ids.add(id);
  }

  remove(id: string, scope: Scope): void {
    this.#order.delete(id);
    const key = bucketOf(scope);
    const ids = this.#buckets.get(key);
    if (ids === undefined) return;
    ids.delete(id);
    if (ids.size === 0) this.#buckets.delete(key);
  }

  /**
   * The ids that may be visible from `query` (a superset: check each), in the order they were
   * added; `undefined` when any memory may be (a query without both a session and a user sees
   * across sessions or users).
   */
  candidates(query: Scope): string[] | undefined {
    if (query.sessionId === undefined || query.userId === undefined) return undefined;
    const ids: string[] = [];
    for (const key of [`s\n${query.sessionId}`, `u\n${query.userId}`, '*']) {
      const bucket = this.#buckets.get(key);
      if (bucket !== undefined) for (const id of bucket) ids.push(id);
    }
    const order = this.#order;
    return ids.sort((a, b) => order.get(a)! - order.get(b)!);
  }
}
