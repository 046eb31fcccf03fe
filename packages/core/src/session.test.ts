import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';

describe('Session', () => {
  it('generates a session id and defaults the user', () => {
    const session = new Session();
    expect(session.sessionId).toMatch(/^sess_[a-f0-9]{32}$/);
    expect(session.userId).toBe('default_user');
  });

  it('refuses an agent without a name with a typed error', () => {
    const session = new Session();
    // @ts-expect-error: JavaScript callers may leave the options out
    expect(() => session.Agent()).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(() => session.Agent({ name: ' ' })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('refuses invalid session ids with a typed error', () => {
    for (const sessionId of ['../x', '', 'a/b', '.', '..', 'x'.repeat(129), 'a b']) {
      expect(() => new Session({ sessionId })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });

  it('merges saved state and restores it in a new instance', async () => {
    const store = new MemorySessionStore();
    const first = new Session({ sessionId: 'chat_1', userId: 'u1', store });
    await first.saveState({ topic: 'AI research' });
    await first.saveState({ step: 1 });
    await first.setState('step', 2);
    expect(await first.incrementState('visits')).toBe(1);
    expect(await first.incrementState('visits', 2)).toBe(3);

    const second = new Session({ sessionId: 'chat_1', store });
    expect(await second.restoreState()).toEqual({ topic: 'AI research', step: 2, visits: 3 });
    expect(second.userId).toBe('u1');
    expect(second.getState('step', 0)).toBe(2);
    expect(second.getState('missing', 'fallback')).toBe('fallback');
  });

  it('refuses to increment a value that is not a number', async () => {
    const session = new Session();
    await session.setState('name', 'x');
    await expect(session.incrementState('name')).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('reports its context', async () => {
    const model = new ScriptedModel();
    const session = new Session({ sessionId: 'ctx', userId: 'u', model });
    session.Agent({ name: 'Assistant' });
    await session.Agent({ name: 'Assistant' }).chat('hello');
    const context = session.getContext();
    expect(context).toMatchObject({ sessionId: 'ctx', userId: 'u', messageCount: 2, agents: ['Assistant'] });
    expect(Date.parse(context.createdAt)).not.toBeNaN();
    expect(context.updatedAt >= context.createdAt).toBe(true);
  });

  it('throws NotConfiguredError naming the package when a port is missing', async () => {
    const session = new Session();
    await expect(session.addMemory('x')).rejects.toMatchObject({
      code: 'not_configured',
      message: expect.stringContaining('@sessions/memory'),
    });
    await expect(session.searchKnowledge('x')).rejects.toMatchObject({
      code: 'not_configured',
      message: expect.stringContaining('@sessions/knowledge'),
    });
    await expect(session.Agent({ name: 'A' }).chat('hi')).rejects.toMatchObject({
      code: 'not_configured',
      message: expect.stringContaining('@sessions/openai'),
    });
    expect(() => session.Agent({ name: 'A', memory: true })).toThrow(
      expect.objectContaining({ code: 'not_configured' }),
    );
  });

  it('persists agent configurations with the state', async () => {
    const store = new MemorySessionStore();
    const session = new Session({ sessionId: 'agents', store, model: new ScriptedModel() });
    await session.Agent({ name: 'Researcher', instructions: 'You research topics' }).chat('go');
    const restored = new Session({ sessionId: 'agents', store });
    await restored.restoreState();
    expect(restored.getContext().agents).toEqual(['Researcher']);
    expect(restored.getAgentConfig('Researcher')).toEqual({
      name: 'Researcher',
      instructions: 'You research topics',
    });
  });
});

describe('Session metadata', () => {
  it('keeps host metadata in the stored state across instances', async () => {
    const store = new MemorySessionStore();
    const first = new Session({ sessionId: 'meta', store, metadata: { owner: 'alice' } });
    await first.saveState({ a: 1 });
    expect((await store.load('meta'))?.state?.metadata).toEqual({ owner: 'alice' });
    const second = new Session({ sessionId: 'meta', store });
    await second.setState('b', 2);
    expect(second.metadata).toEqual({ owner: 'alice' });
    expect((await store.load('meta'))?.state).toMatchObject({
      metadata: { owner: 'alice' },
      data: { a: 1, b: 2 },
    });
  });
});

describe('the synchronous reads of a Session', () => {
  it('show the session as loaded: defaults before restoreState, the stored session after', async () => {
    const store = new MemorySessionStore();
    const first = new Session({
      sessionId: 'chat_123',
      userId: 'user_456',
      store,
      model: new ScriptedModel(),
      now: () => new Date('2026-01-01T00:00:00.000Z'),
    });
    await first.Agent({ name: 'Assistant' }).chat('Hello');
    await first.setState('step', 2);

    const later = new Session({
      sessionId: 'chat_123',
      store,
      now: () => new Date('2026-06-01T00:00:00.000Z'),
    });
    expect(later.getContext()).toMatchObject({
      userId: 'default_user',
      createdAt: '2026-06-01T00:00:00.000Z',
      messageCount: 0,
      agents: [],
    });
    expect(later.getState('step', 0)).toBe(0);
    await later.restoreState();
    expect(later.getContext()).toMatchObject({
      userId: 'user_456',
      createdAt: '2026-01-01T00:00:00.000Z',
      messageCount: 2,
      agents: ['Assistant'],
    });
    expect(later.getState('step', 0)).toBe(2);
  });
});

describe('agents of a restored session', () => {
  const stored = async (): Promise<MemorySessionStore> => {
    const store = new MemorySessionStore();
    const first = new Session({ sessionId: 'resume', store });
    first.Agent({ name: 'Assistant', role: 'a helper', instructions: 'Answer briefly.' });
    await first.saveState();
    return store;
  };

  it('an agent made again by name after restoreState() gets its stored configuration back', async () => {
    const store = await stored();
    const model = new ScriptedModel();
    const second = new Session({ sessionId: 'resume', store, model });
    await second.restoreState();
    const agent = second.Agent({ name: 'Assistant' });
    expect(agent.instructions).toBe('Answer briefly.');
    await agent.chat('x');
    expect(model.requests[0]!.messages[0]).toMatchObject({
      role: 'system',
      content: 'You are Assistant, a helper.\n\nAnswer briefly.',
    });
    expect((await store.load('resume'))?.state?.agents).toEqual([
      { name: 'Assistant', role: 'a helper', instructions: 'Answer briefly.' },
    ]);
  });

  it('an agent made before the session loaded gets its stored configuration on its first turn', async () => {
    const store = await stored();
    const model = new ScriptedModel();
    const second = new Session({ sessionId: 'resume', store, model });
    await second.Agent({ name: 'Assistant' }).chat('x');
    expect(model.requests[0]!.messages[0]!.content).toBe('You are Assistant, a helper.\n\nAnswer briefly.');
    expect(second.getAgentConfig('Assistant')).toEqual({
      name: 'Assistant',
      role: 'a helper',
      instructions: 'Answer briefly.',
    });
    expect((await store.load('resume'))?.state?.agents).toEqual([
      { name: 'Assistant', role: 'a helper', instructions: 'Answer briefly.' },
    ]);
  });

  it('options given to Agent() override the stored ones, and the others are kept', async () => {
    const store = await stored();
    const model = new ScriptedModel();
    const second = new Session({ sessionId: 'resume', store, model });
    await second.Agent({ name: 'Assistant', instructions: 'Answer at length.' }).chat('x');
    expect(model.requests[0]!.messages[0]!.content).toBe('You are Assistant, a helper.\n\nAnswer at length.');
    expect((await store.load('resume'))?.state?.agents).toEqual([
      { name: 'Assistant', role: 'a helper', instructions: 'Answer at length.' },
    ]);
    const third = new Session({ sessionId: 'resume', store, model });
    await third.restoreState();
    expect(third.Agent({ name: 'Assistant' }).instructions).toBe('Answer at length.');
  });
});

describe('options of new Session()', () => {
  it('refuses middleware that is not a function', () => {
    // @ts-expect-error: JavaScript callers may pass anything
    expect(() => new Session({ middleware: [42] })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    // @ts-expect-error: JavaScript callers may pass anything
    expect(() => new Session({ middleware: 42 })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('refuses agentUrl (the reference spelling of a remote session), naming RemoteSession', () => {
    for (const options of [{ agentUrl: 'http://127.0.0.1:8000' }, { agent_url: 'http://127.0.0.1:8000' }]) {
      expect(() => new Session(options as never)).toThrow(
        expect.objectContaining({
          code: 'invalid_input',
          message: expect.stringContaining('RemoteSession from @sessions/remote-client'),
        }),
      );
    }
  });
});
