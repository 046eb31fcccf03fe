// @sessions/testing resolves through the vitest alias (vitest.shared.ts); core takes no package dependency on it.
import { withoutOptionalMethods } from '@sessions/testing';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';
import type { Message } from './message.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';
import type { HistoryCursor, SessionStore, StoredTail } from './session-store.js';

/** A MemorySessionStore that records what each load and loadSince returned. */
class CountingStore extends MemorySessionStore {
  loads = 0;
  readonly tails: Array<{ cursor: HistoryCursor | undefined; tail: StoredTail | undefined }> = [];

  override async load(sessionId: string) {
    this.loads += 1;
    return super.load(sessionId);
  }

  override async loadSince(sessionId: string, cursor?: HistoryCursor) {
    const tail = await super.loadSince(sessionId, cursor);
    this.tails.push({ cursor, tail });
    return tail;
  }
}

const contents = (messages: readonly Message[]): string[] => messages.map((m) => m.content);

/** A store holding session `s` with one message, so that Sessions opening it learn its epoch. */
async function seeded(): Promise<MemorySessionStore> {
  const store = new MemorySessionStore();
  await store.append('s', [{ id: 'seed', role: 'system', content: 'seed', createdAt: '' }]);
  return store;
}

/** `store` with its own `loadSince` (every other method goes to `store`). */
function withLoadSince(store: MemorySessionStore, loadSince: SessionStore['loadSince']): SessionStore {
  return {
    load: (sessionId) => store.load(sessionId),
    append: (sessionId, messages, opts) => store.append(sessionId, messages, opts),
    saveState: (sessionId, state) => store.saveState(sessionId, state),
    updateState: (sessionId, update) => store.updateState(sessionId, update),
    list: (filter) => store.list(filter),
    delete: (sessionId) => store.delete(sessionId),
    loadSince,
  };
}

/**
 * `store` with a `loadSince` that reads at once and, while held (`hold()`), answers only once
 * `release()`d: a read that began before a write answers after it.
 */
function holdingReads(store: MemorySessionStore): { store: SessionStore; hold(): void; release(): void } {
  let held: Promise<void> | undefined;
  let release = (): void => {};
  return {
    store: withLoadSince(store, async (sessionId, cursor) => {
      const tail = await store.loadSince(sessionId, cursor);
      if (held !== undefined) await held;
      return tail;
    }),
    hold() {
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    release() {
      held = undefined;
      release();
    },
  };
}

describe('Session.refresh', () => {
  it('loads only the turns written by another Session since, and the state', async () => {
    const store = new CountingStore();
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    const b = new Session({ sessionId: 's', store, model });
    const agentB = b.Agent({ name: 'B' });
    await agentB.chat('zero');
    await a.Agent({ name: 'A' }).chat('one');
    await b.refresh();
    await agentB.chat('two');
    await b.setState('topic', 'AI');

    store.tails.length = 0;
    await a.refresh();
    expect(store.tails).toHaveLength(1);
    // Only B's turn came back, after the four messages A already held.
    expect(store.tails[0]?.tail).toMatchObject({ from: 4, seq: 6 });
    expect(contents(store.tails[0]!.tail!.messages)).toEqual(['two', 'echo: two']);
    expect(contents(await a.messages())).toEqual([
      'zero',
      'echo: zero',
      'one',
      'echo: one',
      'two',
      'echo: two',
    ]);
    expect(a.getState('topic')).toBe('AI');
    expect(a.getContext().agents.sort()).toEqual(['A', 'B']);
    expect(store.loads).toBe(0);
  });

  it('is not sent the state again while it is unchanged, and takes in a changed one', async () => {
    const store = new CountingStore();
    const a = new Session({ sessionId: 's', store, model: new ScriptedModel() });
    const b = new Session({ sessionId: 's', store, model: new ScriptedModel() });
    await a.setState('topic', 'AI');
    await a.refresh(); // its own write: the store's version is learnt
    store.tails.length = 0;
    await a.refresh();
    expect(store.tails[0]?.cursor?.stateVersion).toEqual(expect.any(String));
    expect(store.tails[0]?.tail).toMatchObject({ stateUnchanged: true, state: undefined });
    expect(a.getState('topic')).toBe('AI');
    expect(a.getContext().sessionId).toBe('s');

    await b.setState('topic', 'ML');
    store.tails.length = 0;
    await a.refresh();
    expect(store.tails[0]?.tail?.stateUnchanged).toBeUndefined();
    expect(a.getState('topic')).toBe('ML');
  });

  it('does not read the history back after a keyed turn the store says it stored', async () => {
    const store = new CountingStore();
    const session = new Session({ sessionId: 's', store, model: new ScriptedModel() });
    const agent = session.Agent({ name: 'A' });
    await agent.chat('one', { turnId: 't1' });
    store.tails.length = 0;
    expect(await agent.chat('two', { turnId: 't2' })).toBe('echo: two');
    expect(store.tails).toHaveLength(0);
    expect(contents(await session.messages())).toEqual(['one', 'echo: one', 'two', 'echo: two']);
    // A retry of t2 through another Session: the store kept t2, whose reply is the answer.
    const other = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('another answer') });
    expect(await other.Agent({ name: 'A' }).chat('two', { turnId: 't2' })).toBe('echo: two');
    expect(contents(await other.messages())).toEqual(['one', 'echo: one', 'two', 'echo: two']);
  });

  it('lets the model of the next turn see the other Session’s turn', async () => {
    const store = new MemorySessionStore();
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    const b = new Session({ sessionId: 's', store, model });
    const agentA = a.Agent({ name: 'A' });
    await agentA.chat('first');
    await b.Agent({ name: 'B' }).chat('second');
    await a.refresh();
    await agentA.chat('third');
    expect(contents(model.requests.at(-1)!.messages.slice(1))).toEqual([
      'first',
      'echo: first',
      'second',
      'echo: second',
      'third',
    ]);
    expect(await a.messages()).toEqual((await store.load('s'))?.messages);
  });

  it('reloads everything from a store without loadSince', async () => {
    const memory = new CountingStore();
    const store = withoutOptionalMethods(memory);
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    const b = new Session({ sessionId: 's', store, model });
    await a.Agent({ name: 'A' }).chat('one');
    await b.Agent({ name: 'B' }).chat('two');
    const loads = memory.loads;
    await a.refresh();
    expect(memory.loads).toBe(loads + 1);
    expect(contents(await a.messages())).toEqual(['one', 'echo: one', 'two', 'echo: two']);
  });

  it('takes the whole new history when the session was deleted and made again', async () => {
    const store = new MemorySessionStore();
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    await a.Agent({ name: 'A' }).chat('old');
    await store.delete('s');
    const b = new Session({ sessionId: 's', store, model });
    const agentB = b.Agent({ name: 'B' });
    await agentB.chat('new one');
    await agentB.chat('new two');
    await a.refresh();
    expect(contents(await a.messages())).toEqual(['new one', 'echo: new one', 'new two', 'echo: new two']);
    await store.delete('s');
    await a.refresh();
    expect(await a.messages()).toEqual([]);
    expect(a.getContext().messageCount).toBe(0);
  });

  it('shares reads between concurrent calls: those made while a read runs wait for one more', async () => {
    const store = new CountingStore();
    const session = new Session({ sessionId: 's', store, model: new ScriptedModel() });
    await session.Agent({ name: 'A' }).chat('one');
    store.tails.length = 0;
    await Promise.all(Array.from({ length: 64 }, () => session.refresh()));
    // The first call's read, then one read for the 63 calls made while it ran.
    expect(store.tails).toHaveLength(2);
    await session.refresh();
    expect(store.tails).toHaveLength(3);
  });

  it('sees what was written before a call made while an older read was still running', async () => {
    const store = await seeded();
    const reads = holdingReads(store);
    const reader = new Session({ sessionId: 's', store: reads.store });
    await reader.refresh();
    reads.hold();
    const older = reader.refresh();
    const writer = new Session({ sessionId: 's', store, model: new ScriptedModel() });
    await writer.Agent({ name: 'W' }).chat('written meanwhile');
    const newer = reader.refresh();
    reads.release();
    await Promise.all([older, newer]);
    expect(contents(await reader.messages())).toEqual([
      'seed',
      'written meanwhile',
      'echo: written meanwhile',
    ]);
  });

  it('sees what was written before a call made after another call began a read', async () => {
    const store = await seeded();
    const reads = holdingReads(store);
    const reader = new Session({ sessionId: 's', store: reads.store });
    await reader.refresh();
    reads.hold();
    const first = reader.refresh();
    let late: Promise<void> | undefined;
    // Runs as soon as the first read settles, before the calls that shared the next read move on.
    const continued = first.then(() => {
      void reader.refresh(); // a new read begins: the store holds no 'late' yet
      void store.append('s', [{ id: 'late', role: 'user', content: 'late', createdAt: '' }]);
      late = reader.refresh(); // made after 'late' was written: must see it
    });
    const waiting = reader.refresh(); // made while the first read ran: shares the next one
    reads.release();
    await continued;
    await Promise.all([late, waiting]);
    expect(contents(reader.loadedHistory() ?? [])).toEqual(['seed', 'late']);
  });

  it('lets a failed read fail only the calls that shared it', async () => {
    const store = await seeded();
    const flaky: MemorySessionStore = Object.create(store);
    let fail = false;
    flaky.loadSince = async (sessionId, cursor) => {
      if (fail) throw new Error('disk gone');
      return store.loadSince(sessionId, cursor);
    };
    const session = new Session({ sessionId: 's', store: flaky });
    await session.refresh();
    fail = true;
    await expect(Promise.all([session.refresh(), session.refresh()])).rejects.toThrow('disk gone');
    fail = false;
    await expect(session.refresh()).resolves.toBeUndefined();
    expect(contents(await session.messages())).toEqual(['seed']);
  });

  it('does not fail the calls made while a read that failed ran: they share the next one', async () => {
    const store = await seeded();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let failNext = false;
    const flaky = withLoadSince(store, async (sessionId, cursor) => {
      const fail = failNext;
      failNext = false;
      const tail = await store.loadSince(sessionId, cursor);
      if (!fail) return tail;
      await held;
      throw new Error('disk gone');
    });
    const session = new Session({ sessionId: 's', store: flaky });
    await session.refresh();
    failNext = true;
    const failing = session.refresh();
    const later = [session.refresh(), session.refresh()];
    release();
    await expect(failing).rejects.toThrow('disk gone');
    await expect(Promise.all(later)).resolves.toEqual([undefined, undefined]);
  });

  it('still knows it is behind after a read that failed', async () => {
    const store = await seeded();
    let fail = false;
    const flaky = withLoadSince(store, async (sessionId, cursor) => {
      if (fail) throw new Error('disk gone');
      return store.loadSince(sessionId, cursor);
    });
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store: flaky, model });
    const agentA = a.Agent({ name: 'A' });
    await agentA.chat('one');
    await new Session({ sessionId: 's', store, model }).Agent({ name: 'B' }).chat('two');
    // A's append lands after B's turn: A knows it holds neither.
    await agentA.chat('three');
    fail = true;
    await expect(a.refresh()).rejects.toThrow('disk gone');
    fail = false;
    expect(await a.messages()).toEqual((await store.load('s'))?.messages);
  });

  it('does not take back its own state write with a read begun before it', async () => {
    const store = await seeded();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holdNext = false;
    const slow = withLoadSince(store, async (sessionId, cursor) => {
      const hold = holdNext;
      holdNext = false;
      const tail = await store.loadSince(sessionId, cursor);
      if (hold) await held;
      return tail;
    });
    const session = new Session({ sessionId: 's', store: slow });
    await session.setState('topic', 'old');
    holdNext = true;
    const reading = session.refresh(); // reads the state before the write below
    await session.setState('topic', 'new');
    release();
    await reading;
    expect(session.getState('topic')).toBe('new');
    expect((await store.load('s'))?.state?.data).toEqual({ topic: 'new' });
    await session.refresh();
    expect(session.getState('topic')).toBe('new');
  });

  it('takes in a state written elsewhere while its own write was answered late', async () => {
    const store = await seeded();
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let landed!: () => void;
    const written = new Promise<void>((resolve) => {
      landed = resolve;
    });
    let holdWrites = false;
    // Its state writes land in the store at once; while `holdWrites`, they are answered once released.
    const late: SessionStore = {
      ...withLoadSince(store, (sessionId, cursor) => store.loadSince(sessionId, cursor)),
      updateState: async (sessionId, update) => {
        const state = await store.updateState(sessionId, update);
        if (holdWrites) {
          landed();
          await held;
        }
        return state;
      },
    };
    const a = new Session({ sessionId: 's', store: late });
    await a.setState('mine', 1);
    holdWrites = true;
    const writing = a.setState('mine', 2);
    await written;
    // Another process writes after A's write landed.
    await store.updateState('s', (state) => ({ ...state!, data: { ...state!.data, theirs: 'B' } }));
    await a.refresh(); // while A's write is not answered yet: reads both
    release();
    await writing;
    await a.refresh();
    expect([a.getState('mine'), a.getState('theirs')]).toEqual([2, 'B']);
  });

  it('keeps the history of one Session in the store’s order under concurrent turns', async () => {
    const store = await seeded();
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    const b = new Session({ sessionId: 's', store, model });
    const agentA = a.Agent({ name: 'A' });
    const agentB = b.Agent({ name: 'B' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? agentB : agentA).chat(`m${i}`)));
    await Promise.all([a.refresh(), a.refresh(), b.refresh()]);
    const stored = (await store.load('s'))?.messages;
    expect(stored).toHaveLength(41);
    expect(await a.messages()).toEqual(stored);
    expect(await b.messages()).toEqual(stored);
  });

  it('sees other turns that landed before its own append without a refresh', async () => {
    const store = await seeded();
    const model = new ScriptedModel();
    const a = new Session({ sessionId: 's', store, model });
    const b = new Session({ sessionId: 's', store, model });
    const agentA = a.Agent({ name: 'A' });
    await agentA.chat('one');
    await b.Agent({ name: 'B' }).chat('two');
    // A's append lands after B's turn: A's history must not put its turn before B's.
    await agentA.chat('three');
    expect(await a.messages()).toEqual((await store.load('s'))?.messages);
  });

  it('holds what the store kept when a retried turn id was already stored elsewhere', async () => {
    const store = await seeded();
    const a = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('first answer') });
    const b = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('second answer') });
    await a.refresh();
    await b.Agent({ name: 'B' }).chat('hello', { turnId: 't1' });
    // A never saw B's turn; its retry of t1 is not stored again, and A's history is the stored one.
    await a.Agent({ name: 'A' }).chat('hello', { turnId: 't1' });
    const stored = (await store.load('s'))?.messages;
    expect(contents(stored!)).toEqual(['seed', 'hello', 'second answer']);
    expect(await a.messages()).toEqual(stored);
  });
});

describe('Session.windowStart', () => {
  /** The plain walk from the newest message back, as the agent did it before costs were summed once. */
  function reference(history: readonly Message[], budget: number): number {
    let start = history.length;
    let spent = 0;
    for (let index = history.length - 1; index >= 0; index -= 1) {
      spent += Math.ceil(history[index]!.content.length / 4) + 4;
      if (spent > budget) break;
      start = index;
    }
    while (start < history.length && history[start]!.role !== 'user') start += 1;
    return start;
  }

  it('starts where the walk from the newest message within the budget does, as the history grows', async () => {
    const store = new MemorySessionStore();
    const session = new Session({ sessionId: 'w', store });
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const roles = ['user', 'assistant', 'tool', 'system'] as const;
    for (let round = 0; round < 60; round++) {
      const batch: Message[] = Array.from({ length: 1 + random(4) }, (_, i) => ({
        id: `m${round}_${i}`,
        role: roles[random(4)]!,
        content: 'x'.repeat(random(300)),
        createdAt: '',
      }));
      await store.append('w', batch);
      await session.refresh();
      const history = await session.history();
      for (const budget of [0, 3, 4, 50, 200, 1_000, 5_000, 100_000]) {
        expect(session.windowStart(budget), `round ${round}, budget ${budget}`).toBe(
          reference(history, budget),
        );
      }
    }
  });
});
