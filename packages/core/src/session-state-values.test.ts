// @sessions/testing resolves through the vitest alias (vitest.shared.ts); core takes no package dependency on it.
import { withoutOptionalMethods } from '@sessions/testing';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.js';
import { MemorySessionStore } from './memory-session-store.js';
import { Session } from './session.js';
import type { SessionState, SessionStore } from './session-store.js';

/** A store that refuses, as a store may for its own reasons, a state holding the key `refused`. */
function refusingStore(memory: MemorySessionStore, withUpdateState: boolean): SessionStore {
  const check = (state: SessionState): SessionState => {
    if (Object.hasOwn(state.data, 'refused')) throw new InvalidInputError('This store refuses "refused"');
    return state;
  };
  const base: SessionStore = withUpdateState
    ? memory
    : withoutOptionalMethods(memory, { keep: ['loadSince'] });
  const store: SessionStore = {
    load: (id) => base.load(id),
    append: (id, messages, opts) => base.append(id, messages, opts),
    saveState: async (id, state) => base.saveState(id, check(state)),
    list: (filter) => base.list(filter),
    delete: (id) => base.delete(id),
  };
  if (base.loadSince) store.loadSince = base.loadSince.bind(base);
  if (withUpdateState)
    store.updateState = (id, update) => memory.updateState(id, (current) => check(update(current)));
  return store;
}

const circular: Record<string, unknown> = {};
circular.self = circular;
const NOT_JSON: Array<[string, unknown]> = [
  ['a bigint', 1n],
  ['a function', () => 1],
  ['a cycle', circular],
  ['a Map', new Map()],
  ['a Date', new Date(0)],
  ['NaN', Number.NaN],
  ['undefined in an array', [undefined]],
];

describe('state values of a Session', () => {
  it.each(NOT_JSON)(
    'setState refuses %s with InvalidInputError naming the key, and later writes work',
    async (_, value) => {
      const memory = new MemorySessionStore();
      const session = new Session({ sessionId: 's', store: memory });
      await session.setState('before', 1);
      await expect(session.setState('k', value)).rejects.toMatchObject({
        code: 'invalid_input',
        message: expect.stringContaining('"k'),
      });
      expect(session.getState('k', 'none')).toBe('none');
      await session.setState('ok', 1);
      expect((await memory.load('s'))?.state?.data).toEqual({ before: 1, ok: 1 });
    },
  );

  it('saveState refuses data holding a value that is not JSON, naming its key, and keeps none of it', async () => {
    const memory = new MemorySessionStore();
    const session = new Session({ sessionId: 's', store: memory });
    await expect(session.saveState({ fine: 1, bad: { deep: 1n } })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('"bad.deep"'),
    });
    expect(session.getState('fine', 'none')).toBe('none');
    await session.saveState({ ok: true });
    expect((await memory.load('s'))?.state?.data).toEqual({ ok: true });
  });

  it('setState(key, undefined) removes the key, here and in the store', async () => {
    const memory = new MemorySessionStore();
    const session = new Session({ sessionId: 's', store: memory });
    await session.saveState({ a: 1, b: 2 });
    await session.setState('a', undefined);
    expect(session.getState('a', 'gone')).toBe('gone');
    expect((await memory.load('s'))?.state?.data).toEqual({ b: 2 });
    const again = new Session({ sessionId: 's', store: memory });
    expect(await again.restoreState()).toEqual({ b: 2 });
  });

  it('incrementState refuses a step or a default that is not a finite number, and a result that is not finite', async () => {
    const memory = new MemorySessionStore();
    const session = new Session({ sessionId: 's', store: memory });
    await session.setState('big', Number.MAX_VALUE);
    const refused: Array<[string, unknown, unknown]> = [
      ['b', 'x', 0],
      ['c', Number.NaN, 0],
      ['c', Number.POSITIVE_INFINITY, 0],
      ['d', 1, 'zero'],
      ['d', 1, Number.NaN],
      ['big', Number.MAX_VALUE, 0],
    ];
    for (const [key, by, from] of refused) {
      await expect(
        session.incrementState(key, by as number, from as number),
        `${key} by ${String(by)} from ${String(from)}`,
      ).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining(`"${key}"`) });
    }
    expect(session.getState('b', 'none')).toBe('none');
    expect(session.getState('c', 'none')).toBe('none');
    expect(session.getState('big')).toBe(Number.MAX_VALUE);
    expect(await session.incrementState('c', 2)).toBe(2);
    expect((await memory.load('s'))?.state?.data).toEqual({ big: Number.MAX_VALUE, c: 2 });
  });

  it.each([true, false])(
    'a state write the store refuses is not kept, and later writes work (updateState: %s)',
    async (withUpdateState) => {
      const memory = new MemorySessionStore();
      const session = new Session({ sessionId: 's', store: refusingStore(memory, withUpdateState) });
      await session.setState('first', 1);
      await expect(session.setState('refused', 1)).rejects.toMatchObject({ code: 'invalid_input' });
      expect(session.getState('refused', 'none')).toBe('none');
      expect(session.getState('first')).toBe(1);
      await session.setState('ok', 2);
      expect(session.getState('refused', 'none')).toBe('none');
      expect((await memory.load('s'))?.state?.data).toEqual({ first: 1, ok: 2 });
    },
  );
});

describe('what else a Session stores with its state', () => {
  it('refuses metadata that is not JSON, and agent roles or instructions that are not strings, before anything is stored', () => {
    expect(() => new Session({ metadata: { owner: 1n } })).toThrow(
      expect.objectContaining({ code: 'invalid_input', message: expect.stringContaining('"owner"') }),
    );
    const session = new Session();
    // @ts-expect-error: JavaScript callers may pass anything
    expect(() => session.Agent({ name: 'A', role: 42 })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    // @ts-expect-error: JavaScript callers may pass anything
    expect(() => session.Agent({ name: 'A', instructions: {} })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(session.getContext().agents).toEqual([]);
  });
});

describe('getState', () => {
  it('answers a copy of an object or array: changing it changes nothing held or stored', async () => {
    const memory = new MemorySessionStore();
    const session = new Session({ sessionId: 's', store: memory });
    await session.saveState({ profile: { name: 'Ada', tags: ['a'] }, list: [1] });
    const profile = session.getState<{ name: string; tags: string[] }>('profile');
    profile.name = 'Bob';
    profile.tags.push('b');
    session.getState<number[]>('list').push(2);
    expect(session.getState('profile')).toEqual({ name: 'Ada', tags: ['a'] });
    expect(session.getState('list')).toEqual([1]);
    await session.setState('other', 1);
    expect((await memory.load('s'))?.state?.data).toEqual({
      profile: { name: 'Ada', tags: ['a'] },
      list: [1],
      other: 1,
    });
  });
});
