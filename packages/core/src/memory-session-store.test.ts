// @sessions/testing resolves through the vitest alias (vitest.shared.ts); core takes no package dependency on it.
import { sessionStoreConformance } from '@sessions/testing';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';

describe('MemorySessionStore', () => {
  sessionStoreConformance(() => new MemorySessionStore(), { describe, it, expect });
});
