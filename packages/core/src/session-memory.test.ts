import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';
import type { MemoryRecord, MemoryStore, Scope } from './memory-store.js';
import { Session } from './session.js';

/** A MemoryStore that keeps records in a list and matches scopes field by field. */
function listMemory(): MemoryStore & { records: MemoryRecord[] } {
  const records: MemoryRecord[] = [];
  const within = (record: MemoryRecord, scope: Scope = {}): boolean =>
    (scope.userId === undefined || record.scope.userId === scope.userId) &&
    (scope.sessionId === undefined || record.scope.sessionId === scope.sessionId) &&
    (scope.agentName === undefined || record.scope.agentName === scope.agentName);
  return {
    records,
    add: async (input, scope = {}) => {
      const { text, metadata = {} } = typeof input === 'string' ? { text: input } : input;
      const record = { id: `m${records.length}`, text, metadata, scope, createdAt: '' };
      records.push(record);
      return record;
    },
    search: async (query, opts = {}) =>
      records
        .filter((record) => within(record, opts.scope) && record.text.includes(query))
        .map((record) => ({ ...record, score: 1 })),
    list: async (scope) => records.filter((record) => within(record, scope)),
    get: async (id) => records.find((record) => record.id === id),
    delete: async (id) => {
      const at = records.findIndex((record) => record.id === id);
      if (at >= 0) records.splice(at, 1);
      return at >= 0;
    },
    clear: async (scope) => {
      const gone = records.filter((record) => within(record, scope));
      for (const record of gone) records.splice(records.indexOf(record), 1);
      return gone.length;
    },
  };
}

/** A store holding session `chat_123` of `user_456`. */
async function stored(): Promise<MemorySessionStore> {
  const store = new MemorySessionStore();
  await new Session({ sessionId: 'chat_123', userId: 'user_456', store }).saveState({ topic: 'AI' });
  return store;
}

describe('memory of a session opened by id only', () => {
  it('adds under the stored user, not the default one', async () => {
    const memory = listMemory();
    const session = new Session({ sessionId: 'chat_123', store: await stored(), memory });
    await session.addMemory('User prefers technical explanations');
    await session.addMemory('Lives in Paris', { scope: 'user' });
    expect(memory.records.map((record) => record.scope)).toEqual([
      { userId: 'user_456', sessionId: 'chat_123' },
      { userId: 'user_456' },
    ]);
    expect(session.scope).toEqual({ userId: 'user_456', sessionId: 'chat_123' });
  });

  it('searches under the stored user', async () => {
    const memory = listMemory();
    await memory.add('User prefers technical explanations', { userId: 'user_456', sessionId: 'chat_123' });
    await memory.add('User prefers cats', { userId: 'default_user', sessionId: 'chat_123' });
    const session = new Session({ sessionId: 'chat_123', store: await stored(), memory });
    const hits = await session.searchMemory('prefers');
    expect(hits.map((hit) => hit.text)).toEqual(['User prefers technical explanations']);
  });

  it('clears the stored user’s memories of the session, all or one type', async () => {
    const memory = listMemory();
    const scope = { userId: 'user_456', sessionId: 'chat_123' };
    await memory.add({ text: 'short one', metadata: { type: 'short' } }, scope);
    await memory.add({ text: 'long one', metadata: { type: 'long' } }, scope);
    await memory.add(
      { text: 'not theirs', metadata: { type: 'short' } },
      { userId: 'default_user', sessionId: 'chat_123' },
    );
    expect(
      await new Session({ sessionId: 'chat_123', store: await stored(), memory }).clearMemory('short'),
    ).toBe(1);
    expect(await new Session({ sessionId: 'chat_123', store: await stored(), memory }).clearMemory()).toBe(1);
    expect(memory.records.map((record) => record.text)).toEqual(['not theirs']);
  });

  it('keeps a userId given explicitly', async () => {
    const memory = listMemory();
    const session = new Session({ sessionId: 'chat_123', userId: 'other', store: await stored(), memory });
    await session.addMemory('mine');
    expect(memory.records[0]?.scope).toEqual({ userId: 'other', sessionId: 'chat_123' });
  });
});
