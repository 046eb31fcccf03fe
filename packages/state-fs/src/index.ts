export type { FsSessionStoreOptions, FsSessionStoreWarning } from './fs-session-store.js';
export { FsSessionStore } from './fs-session-store.js';
