// @sessions/testing resolves through the vitest alias (vitest.shared.ts); core takes no package dependency on it.
import { withoutOptionalMethods } from '@sessions/testing';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';
import type { SessionState, SessionStore } from './session-store.js';

const kinds: Array<{ name: string; make: () => { store: SessionStore; memory: MemorySessionStore } }> = [
  {
    name: 'a store with updateState',
    make: () => {
      const memory = new MemorySessionStore();
      return { store: memory, memory };
    },
  },
  {
    name: 'a store with loadSince only',
    make: () => {
      const memory = new MemorySessionStore();
      return { store: withoutOptionalMethods(memory, { keep: ['loadSince'] }), memory };
    },
  },
  {
    name: 'a store with neither',
    make: () => {
      const memory = new MemorySessionStore();
      return { store: withoutOptionalMethods(memory), memory };
    },
  },
];

async function storedState(memory: MemorySessionStore, id = 's'): Promise<SessionState | undefined> {
  return (await memory.load(id))?.state;
}

describe.each(kinds)('state written by two Sessions on $name', ({ make }) => {
  it('keeps both keys when each sets its own', async () => {
    const { store, memory } = make();
    await new Session({ sessionId: 's', store }).saveState({ x: 1 });
    const a = new Session({ sessionId: 's', store });
    const b = new Session({ sessionId: 's', store });
    await b.restoreState(); // B loaded before A wrote
    await a.setState('fromA', true);
    await b.setState('fromB', true);
    expect((await storedState(memory))?.data).toEqual({ x: 1, fromA: true, fromB: true });
    // B's copy took in A's key with its write.
    expect(b.getState('fromA')).toBe(true);
    await a.saveState({ more: 'a' });
    expect((await storedState(memory))?.data).toEqual({ x: 1, fromA: true, fromB: true, more: 'a' });
  });

  it('counts concurrent increments from two Sessions', async () => {
    const { store, memory } = make();
    const a = new Session({ sessionId: 's', store });
    const b = new Session({ sessionId: 's', store });
    await Promise.all([a.restoreState(), b.restoreState()]);
    const results = await Promise.all([a.incrementState('visits'), b.incrementState('visits')]);
    expect(results.sort()).toEqual([1, 2]);
    expect((await storedState(memory))?.data).toEqual({ visits: 2 });
    const more = await Promise.all(
      Array.from({ length: 10 }, (_, n) => (n % 2 === 0 ? a : b).incrementState('visits', 2)),
    );
    expect(more.sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, n) => 4 + 2 * n));
    expect((await storedState(memory))?.data).toEqual({ visits: 22 });
  });

  it('keeps the agents of both', async () => {
    const { store, memory } = make();
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    const b = new Session({ sessionId: 's', store, model });
    await Promise.all([a.restoreState(), b.restoreState()]);
    await a.Agent({ name: 'X' }).chat('hello');
    await b.Agent({ name: 'Y' }).chat('hi');
    expect((await storedState(memory))?.agents.map((agent) => agent.name)).toEqual(['X', 'Y']);
    // A later change of X's configuration by A replaces only X.
    a.Agent({ name: 'X', instructions: 'Be brief' });
    await a.saveState();
    expect((await storedState(memory))?.agents).toEqual([
      { name: 'X', instructions: 'Be brief' },
      { name: 'Y' },
    ]);
  });

  it('refuses to increment a value another Session made a string, and writes the rest', async () => {
    const { store, memory } = make();
    const a = new Session({ sessionId: 's', store });
    const b = new Session({ sessionId: 's', store });
    await Promise.all([a.restoreState(), b.restoreState()]);
    await b.setState('visits', 'many');
    await expect(a.incrementState('visits')).rejects.toMatchObject({ code: 'invalid_input' });
    await a.setState('other', 1);
    expect((await storedState(memory))?.data).toEqual({ visits: 'many', other: 1 });
  });

  it('writes nothing for an increment refused before it was written', async () => {
    const { store } = make();
    let writes = 0;
    const counted: SessionStore = {
      load: (id) => store.load(id),
      append: (id, messages, opts) => store.append(id, messages, opts),
      list: (filter) => store.list(filter),
      delete: (id) => store.delete(id),
      saveState: (id, state) => {
        writes++;
        return store.saveState(id, state);
      },
      ...(store.loadSince && { loadSince: store.loadSince.bind(store) }),
    };
    const session = new Session({
      sessionId: 's',
      store: counted,
      model: new ScriptedModel().reply('ok', 'ok'),
    });
    const agent = session.Agent({ name: 'A' });
    await session.setState('visits', 'many');
    await agent.chat('hello');
    const before = writes;
    await expect(session.incrementState('visits')).rejects.toMatchObject({ code: 'invalid_input' });
    await agent.chat('hello again');
    // Nothing changed: neither the refused increment nor the turn after it writes the state.
    expect(writes).toBe(before);
  });

  it('keeps a change whose write failed for the next write', async () => {
    const { store, memory } = make();
    let fail = true;
    const flaky: SessionStore = {
      ...store,
      load: (id) => store.load(id),
      append: (id, messages, opts) => store.append(id, messages, opts),
      list: (filter) => store.list(filter),
      delete: (id) => store.delete(id),
      saveState: async (id, state) => {
        if (fail) throw new Error('disk full');
        return store.saveState(id, state);
      },
      ...(store.loadSince && { loadSince: store.loadSince.bind(store) }),
    };
    const session = new Session({ sessionId: 's', store: flaky });
    await expect(session.setState('first', 1)).rejects.toThrow('disk full');
    fail = false;
    await session.setState('second', 2);
    expect((await storedState(memory))?.data).toEqual({ first: 1, second: 2 });
  });
});
