import type { SessionStore } from '@sessions/core';

/** The optional methods of `SessionStore`: what `withoutOptionalMethods` can keep. */
export type OptionalStoreMethod = 'loadSince' | 'updateState';

export interface WithoutOptionalMethodsOptions {
  /** Optional methods to keep (when `store` has them). Default none. */
  keep?: readonly OptionalStoreMethod[];
}

/**
 * `store` seen through its required methods only (`load`, `append`, `saveState`, `list`,
 * `delete`) plus the optional ones named in `keep`: what code written for any `SessionStore`
 * meets in a store that lacks `loadSince` or `updateState`. Calls go to `store`, so both views
 * share one backend.
 */
export function withoutOptionalMethods(
  store: SessionStore,
  { keep = [] }: WithoutOptionalMethodsOptions = {},
): SessionStore {
  const view: SessionStore = {
    load: (sessionId) => store.load(sessionId),
    append: (sessionId, messages, opts) => store.append(sessionId, messages, opts),
    saveState: (sessionId, state) => store.saveState(sessionId, state),
    list: (filter) => store.list(filter),
    delete: (sessionId) => store.delete(sessionId),
  };
  if (keep.includes('loadSince') && store.loadSince) view.loadSince = store.loadSince.bind(store);
  if (keep.includes('updateState') && store.updateState) view.updateState = store.updateState.bind(store);
  return view;
}
