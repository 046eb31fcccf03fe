export type { KeyvSessionStoreDriver, KeyvSessionStoreOptions } from './keyv-session-store.js';
export { KeyvSessionStore } from './keyv-session-store.js';
