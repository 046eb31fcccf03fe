import type { MemoryStore } from '@sessions/core';

/** The test functions of the caller's runner (vitest's `it` and `expect`), as @keyv/test-suite takes them. */
export interface MemoryConformanceApi {
  // biome-ignore lint/suspicious/noExplicitAny: the runner's own signatures
  it: (name: string, fn: () => Promise<void> | void, timeout?: number) => any;
  // biome-ignore lint/suspicious/noExplicitAny: the runner's own expect
  expect: any;
  afterEach?: (fn: () => Promise<void> | void) => void;
}

/**
 * One suite every `MemoryStore` runs: add, duplicates, search order and scores, scopes, metadata
 * filters, list, get, delete, clear and concurrency. Call it inside a `describe`; `make` returns a
 * new, empty store each time (and may return a `close` to run after the test).
 */
export function memoryStoreConformance(
  make: () => MemoryStore | Promise<MemoryStore>,
  api: MemoryConformanceApi,
  options: { close?: (store: MemoryStore) => Promise<void> | void } = {},
): void {
  const { it, expect } = api;
  const open: MemoryStore[] = [];
  const fresh = async (): Promise<MemoryStore> => {
    const store = await make();
    open.push(store);
    return store;
  };
  api.afterEach?.(async () => {
    for (const store of open.splice(0)) await options.close?.(store);
  });

  const alice = { userId: 'alice', sessionId: 's1' };

  it('adds text and returns the record', async () => {
    const store = await fresh();
    const record = await store.add('User prefers technical explanations', alice);
    expect(record).toMatchObject({ text: 'User prefers technical explanations', metadata: {}, scope: alice });
    expect(typeof record.id).toBe('string');
    expect(Number.isNaN(Date.parse(record.createdAt))).toBe(false);
    expect(await store.get(record.id)).toEqual(record);
  });

  it('keeps metadata and the given time', async () => {
    const store = await fresh();
    const record = await store.add(
      {
        text: 'Met Bob at the conference',
        metadata: { source: 'chat', importance: 3 },
        createdAt: '2024-05-01T10:00:00.000Z',
      },
      alice,
    );
    expect(record.metadata).toEqual({ source: 'chat', importance: 3 });
    expect(record.createdAt).toBe('2024-05-01T10:00:00.000Z');
    expect((await store.list(alice))[0]).toEqual(record);
  });

  it('does not store an exact duplicate twice', async () => {
    const store = await fresh();
    const first = await store.add('Likes green tea', alice);
    const second = await store.add('Likes green tea', alice);
    expect(second.id).toBe(first.id);
    expect(await store.list(alice)).toHaveLength(1);
  });

  it('finds the most relevant memory first, scores in [0, 1] best first', async () => {
    const store = await fresh();
    await store.add('The user lives in Lisbon and works as a nurse', alice);
    await store.add('The user prefers technical explanations with code samples', alice);
    await store.add('Favourite food is grilled sardines', alice);
    const hits = await store.search('what explanations does the user prefer', { scope: alice });
    expect(hits[0]?.text).toBe('The user prefers technical explanations with code samples');
    for (const hit of hits) {
      expect(hit.score).toBeGreaterThanOrEqual(0);
      expect(hit.score).toBeLessThanOrEqual(1);
    }
    const scores = hits.map((hit) => hit.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('honours limit and minScore', async () => {
    const store = await fresh();
    for (let i = 0; i < 8; i += 1) await store.add(`note number ${i} about gardening`, alice);
    expect(await store.search('gardening', { scope: alice, limit: 3 })).toHaveLength(3);
    const all = await store.search('gardening', { scope: alice, limit: 20 });
    expect(all).toHaveLength(8);
    const ranked = await store.search('gardening number 3', { scope: alice, limit: 20 });
    const threshold = ranked[0]!.score;
    expect(threshold).toBeGreaterThan(ranked.at(-1)!.score);
    const strong = await store.search('gardening number 3', { scope: alice, limit: 20, minScore: threshold });
    expect(strong.length).toBeGreaterThan(0);
    expect(strong.length).toBeLessThan(ranked.length);
    for (const hit of strong) expect(hit.score).toBeGreaterThanOrEqual(threshold);
    await expect(store.search('gardening', { scope: alice, minScore: 1.5 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await store.search('quantum chromodynamics', { scope: alice })).toEqual([]);
  });

  it('keeps sessions apart and shares user memories across the sessions of a user', async () => {
    const store = await fresh();
    await store.add('Session one likes cats', { userId: 'alice', sessionId: 's1' });
    await store.add('Session two likes dogs', { userId: 'alice', sessionId: 's2' });
    await store.add('Alice is allergic to peanuts', { userId: 'alice' });
    await store.add('Bob is allergic to shellfish', { userId: 'bob' });
    const fromS1 = await store.search('likes allergic', {
      scope: { userId: 'alice', sessionId: 's1' },
      limit: 10,
    });
    expect(fromS1.map((hit) => hit.text).sort()).toEqual([
      'Alice is allergic to peanuts',
      'Session one likes cats',
    ]);
    const fromS2 = await store.list({ userId: 'alice', sessionId: 's2' });
    expect(fromS2.map((record) => record.text).sort()).toEqual([
      'Alice is allergic to peanuts',
      'Session two likes dogs',
    ]);
    const bob = await store.search('allergic', { scope: { userId: 'bob', sessionId: 'b1' } });
    expect(bob.map((hit) => hit.text)).toEqual(['Bob is allergic to shellfish']);
  });

  it('lists what a session sees, oldest first: its own, its user’s and shared memories, after deletes and clears', async () => {
    const store = await fresh();
    const at = (minute: number): string => `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;
    await store.add({ text: 'shared rule', createdAt: at(5) });
    await store.add({ text: 'alice in s1', createdAt: at(3) }, { userId: 'alice', sessionId: 's1' });
    await store.add({ text: 'alice overall', createdAt: at(1) }, { userId: 'alice' });
    await store.add({ text: 'alice in s2', createdAt: at(2) }, { userId: 'alice', sessionId: 's2' });
    await store.add({ text: 'bob overall', createdAt: at(4) }, { userId: 'bob' });
    await store.add({ text: 'bob in s1', createdAt: at(6) }, { userId: 'bob', sessionId: 's1' });
    const doomed = await store.add({ text: 'alice in s1, later', createdAt: at(7) }, alice);
    const texts = async (scope: { userId?: string; sessionId?: string }): Promise<string[]> =>
      (await store.list(scope)).map((record) => record.text);
    expect(await texts(alice)).toEqual(['alice overall', 'alice in s1', 'shared rule', 'alice in s1, later']);
    expect(await texts({ userId: 'bob', sessionId: 's9' })).toEqual(['bob overall', 'shared rule']);
    expect(await texts({ userId: 'alice' })).toEqual([
      'alice overall',
      'alice in s2',
      'alice in s1',
      'shared rule',
      'alice in s1, later',
    ]);
    await store.delete(doomed.id);
    await store.clear({ userId: 'alice', sessionId: 's2' });
    expect(await texts(alice)).toEqual(['alice overall', 'alice in s1', 'shared rule']);
    expect(await texts({ userId: 'alice', sessionId: 's2' })).toEqual(['alice overall', 'shared rule']);
  });

  it('scopes memories to an agent', async () => {
    const store = await fresh();
    await store.add('Writer style: short sentences', { userId: 'alice', agentName: 'Writer' });
    await store.add('Researcher style: cite sources', { userId: 'alice', agentName: 'Researcher' });
    const writer = await store.search('style', { scope: { userId: 'alice', agentName: 'Writer' } });
    expect(writer.map((hit) => hit.text)).toEqual(['Writer style: short sentences']);
  });

  it('filters by metadata', async () => {
    const store = await fresh();
    await store.add({ text: 'Deadline is Friday', metadata: { type: 'short' } }, alice);
    await store.add({ text: 'Deadline culture matters to the user', metadata: { type: 'long' } }, alice);
    const hits = await store.search('deadline', { scope: alice, filter: { type: 'short' } });
    expect(hits.map((hit) => hit.text)).toEqual(['Deadline is Friday']);
  });

  it('deletes one memory', async () => {
    const store = await fresh();
    const record = await store.add('Temporary note about parking', alice);
    expect(await store.delete(record.id)).toBe(true);
    expect(await store.delete(record.id)).toBe(false);
    expect(await store.get(record.id)).toBeUndefined();
    expect(await store.search('parking', { scope: alice })).toEqual([]);
  });

  it('clears a scope and only that scope', async () => {
    const store = await fresh();
    await store.add('one', { userId: 'alice', sessionId: 's1' });
    await store.add('two', { userId: 'alice', sessionId: 's1' });
    await store.add('three', { userId: 'alice', sessionId: 's2' });
    await store.add('four', { userId: 'alice' });
    expect(await store.clear({ userId: 'alice', sessionId: 's1' })).toBe(2);
    expect((await store.list()).map((record) => record.text).sort()).toEqual(['four', 'three']);
    expect(await store.clear()).toBe(2);
    expect(await store.list()).toEqual([]);
  });

  it('loses nothing under 100 concurrent adds', async () => {
    const store = await fresh();
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.add(`concurrent memory ${i}`, alice)));
    expect(await store.list(alice)).toHaveLength(100);
    const hits = await store.search('concurrent memory 42', { scope: alice, limit: 100 });
    expect(hits.some((hit) => hit.text === 'concurrent memory 42')).toBe(true);
  });

  it('rejects bad input with a typed error', async () => {
    const store = await fresh();
    await expect(store.add('', alice)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(store.add('   ', alice)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(store.search('x', { limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
  });
}
