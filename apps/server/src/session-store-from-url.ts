import { InvalidInputError, type SessionStore } from '@sessions/core';
import { FsSessionStore } from '@sessions/state-fs';

export interface SessionStoreFromUrlOptions {
  /** `fs` (the default): `FsSessionStore` in `dataDir`. */
  url?: string | undefined;
  /** The data folder. */
  dataDir: string;
}

/** A session store and how to describe it. */
export interface OpenedSessionStore {
  store: SessionStore;
  /** One line for humans: `files in /abs/.sessions`. */
  description: string;
  close(): Promise<void>;
}

/** The session store a store URL names. */
export async function sessionStoreFromUrl(options: SessionStoreFromUrlOptions): Promise<OpenedSessionStore> {
  const url = options.url?.trim() || 'fs';
  if (url === 'fs' || url === 'file:' || url === 'files') {
    const store = new FsSessionStore({ root: options.dataDir });
    return { store, description: `files in ${store.root}`, close: () => store.close() };
  }
  throw new InvalidInputError(`Unsupported session store "${url}": use fs (files in the data folder)`);
}
