// @sessions/testing resolves through the vitest alias (vitest.shared.ts); core takes no package dependency on it.
import { sessionStoreConformance, testState } from '@sessions/testing';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-session-store.js';

describe('MemorySessionStore', () => {
  sessionStoreConformance(() => new MemorySessionStore(), { describe, it, expect });
});

describe('MemorySessionStore.updateState', () => {
  it('hands the update a copy of the stored state, stores what it returns, and returns a copy', async () => {
    const store = new MemorySessionStore();
    const seen: unknown[] = [];
    const first = await store.updateState('s', (current) => {
      seen.push(current);
      return testState('s', { data: { n: 1 } });
    });
    const second = await store.updateState('s', (current) => {
      seen.push(structuredClone(current));
      current!.data.n = 99; // a copy: not what is stored
      return testState('s', { data: { n: (current!.data.n as number) + 1 } });
    });
    expect(seen).toEqual([undefined, testState('s', { data: { n: 1 } })]);
    expect(first.data).toEqual({ n: 1 });
    second.data.n = 0; // a copy too
    expect((await store.load('s'))?.state?.data).toEqual({ n: 100 });
  });

  it('writes nothing when the update throws', async () => {
    const store = new MemorySessionStore();
    await store.saveState('s', testState('s', { data: { n: 1 } }));
    await expect(
      store.updateState('s', () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect((await store.load('s'))?.state?.data).toEqual({ n: 1 });
  });
});
