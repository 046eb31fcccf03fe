import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';
import type { MemoryRecord, MemoryStore, Scope } from './memory-store.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';

/** A MemoryStore that keeps records in a list and matches scopes field by field. */
function listMemory(): MemoryStore & { records: MemoryRecord[] } {
  const records: MemoryRecord[] = [];
  /** As `Memory` does: a record key left out matches any (user memories are seen from every session). */
  const visible = (record: MemoryRecord, scope: Scope = {}): boolean =>
    (scope.userId === undefined ||
      record.scope.userId === undefined ||
      record.scope.userId === scope.userId) &&
    (scope.sessionId === undefined ||
      record.scope.sessionId === undefined ||
      record.scope.sessionId === scope.sessionId);
  const within = (record: MemoryRecord, scope: Scope = {}): boolean =>
    (scope.userId === undefined || record.scope.userId === scope.userId) &&
    (scope.sessionId === undefined || record.scope.sessionId === scope.sessionId) &&
    (scope.agentName === undefined || record.scope.agentName === scope.agentName);
  return {
    records,
    add: async (input, scope = {}) => {
      const { text, metadata = {}, createdAt = '' } = typeof input === 'string' ? { text: input } : input;
      const at = typeof createdAt === 'string' ? createdAt : createdAt.toISOString();
      const record = { id: `m${records.length}`, text, metadata, scope, createdAt: at };
      records.push(record);
      return record;
    },
    search: async (query, opts = {}) =>
      records
        .filter((record) => visible(record, opts.scope) && record.text.includes(query))
        .map((record) => ({ ...record, score: 1 })),
    list: async (scope) =>
      records
        .filter((record) => visible(record, scope))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
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

describe('memory in the prompt when the search finds nothing', () => {
  it('gives an agent with memory the most recent memories of the session and its user', async () => {
    const memory = listMemory();
    const model = new ScriptedModel();
    let clock = 0;
    const now = (): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, clock++));
    const session = new Session({ sessionId: 's', userId: 'u', memory, model, now });
    const recorded = async (text: string, scope: Scope): Promise<void> => {
      await memory.add({ text, createdAt: now() }, scope);
    };
    await recorded('Oldest fact', { userId: 'u', sessionId: 's' });
    await recorded('Lives in Paris', { userId: 'u' });
    await recorded('Of another user', { userId: 'v', sessionId: 's' });
    await recorded('Prefers technical explanations', { userId: 'u', sessionId: 's' });
    const agent = session.Agent({ name: 'A', memory: true, contextItems: 2 });
    await agent.chat('What do you know about me?');
    const system = String(model.requests[0]?.messages[0]?.content);
    expect(system).toContain('Recent memories:\n- Prefers technical explanations\n- Lives in Paris');
    expect(system).not.toContain('Oldest fact');
    expect(system).not.toContain('Of another user');
  });

  it('keeps the recent memories within the token budget', async () => {
    const memory = listMemory();
    const model = new ScriptedModel();
    const session = new Session({ sessionId: 's', userId: 'u', memory, model });
    await memory.add(
      { text: 'x'.repeat(400), createdAt: '2026-01-01T00:00:00.000Z' },
      { userId: 'u', sessionId: 's' },
    );
    await memory.add(
      { text: 'Short and new', createdAt: '2026-01-02T00:00:00.000Z' },
      { userId: 'u', sessionId: 's' },
    );
    await session.Agent({ name: 'A', memory: true, contextTokens: 20 }).chat('Anything?');
    const system = String(model.requests[0]?.messages[0]?.content);
    expect(system).toContain('Recent memories:\n- Short and new');
    expect(system).not.toContain('xxxx');
  });

  it('puts the relevant ones when the search finds some, and buildContext stays empty unless asked', async () => {
    const memory = listMemory();
    const model = new ScriptedModel();
    const session = new Session({ sessionId: 's', userId: 'u', memory, model });
    await session.addMemory('Likes tea');
    await session.addMemory('Works at night');
    await session.Agent({ name: 'A', memory: true }).chat('tea');
    expect(String(model.requests[0]?.messages[0]?.content)).toContain('Relevant memories:\n- Likes tea');
    expect(await session.buildContext('coffee')).toBe('');
    expect(await session.buildContext('coffee', { recentMemories: true })).toBe(
      'Recent memories:\n- Works at night\n- Likes tea',
    );
  });
});

describe('memory options of a Session', () => {
  it('refuses a memory type other than short or long, and a scope other than session or user', async () => {
    const memory = listMemory();
    const session = new Session({ memory });
    const refused = [
      () => session.addMemory('x', { type: 'medium' as never }),
      () => session.addMemory('x', { scope: 'galaxy' as never }),
      () => session.searchMemory('x', { type: 'medium' as never }),
      () => session.clearMemory('medium' as never),
    ];
    for (const call of refused) {
      await expect(call()).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(/medium|galaxy/),
      });
    }
    expect(memory.records).toEqual([]);
    await session.addMemory('x', { type: 'short', scope: 'user' });
    expect(memory.records.map((record) => record.metadata.type)).toEqual(['short']);
  });
});
