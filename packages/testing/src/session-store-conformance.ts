import type { AppendResult, Message, SessionState, SessionStore, SessionSummary } from '@sessions/core';
import type { ExpectStatic } from 'vitest';
import { rejectionOf } from './rejection-of.js';
import { testMessage, testState } from './session-fixtures.js';

/**
 * The test functions the suite runs with, passed by the caller (as `@keyv/test-suite` does) so an
 * adapter outside this repository can run the suite with its own copy of vitest.
 */
export interface ConformanceApi {
  /** When given, the cases are grouped in `describe('SessionStore conformance', ...)`. */
  describe?: (name: string, fn: () => void) => void;
  /**
   * Cases of an optional method call `context.skip()` (vitest's test context) when the store does
   * not have the method; without it they pass without checking anything.
   */
  it: (name: string, fn: (context: TestContext) => Promise<void>) => void;
  expect: ExpectStatic;
  /** When given with `afterEach`, the suite forgets the stores of the previous case. */
  beforeEach?: (fn: () => unknown) => void;
  /**
   * When given, the stores a case made are closed after it, if they have a `close()` (or
   * `Symbol.asyncDispose`) method. Temp dirs and the like stay the caller's to clean.
   */
  afterEach?: (fn: () => unknown) => void;
}

/** The part of vitest's test context the suite uses. */
export interface TestContext {
  skip?: (note?: string) => void;
}

export interface SessionStoreConformanceOptions {
  /**
   * Another store on the same backend as `store` (the same folder, database, server): what a
   * second process would open. The concurrency cases of `updateState` then write through both;
   * without it, through `store` alone. The suite closes what it returns, as it closes `store`.
   */
  reopen?: (store: SessionStore) => SessionStore | Promise<SessionStore>;
}

interface Closable {
  close?: () => unknown;
  [Symbol.asyncDispose]?: () => PromiseLike<void>;
}

/** Session ids every store must refuse with an `invalid_input` error. */
const BAD_IDS: readonly string[] = ['../x', '', 'a/b', '.', '..', 'x'.repeat(129), 'a\u0000b'];

async function collect(iterable: AsyncIterable<SessionSummary>): Promise<SessionSummary[]> {
  const out: SessionSummary[] = [];
  for await (const row of iterable) out.push(row);
  return out.sort((a, b) => a.sessionId.localeCompare(b.sessionId));
}

/**
 * The behaviour every `SessionStore` must have. Call it inside a test file; `makeStore` is called
 * once per case and must return an empty store.
 *
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * sessionStoreConformance(() => new FsSessionStore({ root: tempDir() }), { describe, it, expect });
 * ```
 */
export function sessionStoreConformance(
  make: () => SessionStore | Promise<SessionStore>,
  api: ConformanceApi,
  options: SessionStoreConformanceOptions = {},
): void {
  const { it, expect } = api;
  /** An append with a key that stored its messages: `replayed` is false, or left out (it is optional). */
  const fresh = (result: AppendResult): AppendResult => {
    const { replayed, ...rest } = result;
    expect(replayed === undefined || replayed === false).toBe(true);
    return rest;
  };
  let made: SessionStore[] = [];
  const makeStore = async (): Promise<SessionStore> => {
    const store = await make();
    made.push(store);
    return store;
  };
  api.beforeEach?.(() => {
    made = [];
  });
  api.afterEach?.(async () => {
    const stores = made;
    made = [];
    for (const store of stores as Closable[]) {
      if (typeof store.close === 'function') await store.close();
      else if (typeof store[Symbol.asyncDispose] === 'function') await store[Symbol.asyncDispose]!();
    }
  });

  const cases = (): void => {
    it('load of an unknown session is undefined', async () => {
      const store = await makeStore();
      expect(await store.load('unknown')).toBeUndefined();
    });

    it('append then load returns the messages in order with every field', async () => {
      const store = await makeStore();
      const first: Message[] = [
        testMessage(1, { role: 'system', content: 'You are helpful.' }),
        testMessage(2, {
          content: 'Hi\nthere "quoted" \u2028 ünïcødé 🎉',
          metadata: { source: 'cli', n: 1 },
        }),
      ];
      const second: Message[] = [
        testMessage(3, {
          role: 'assistant',
          name: 'Assistant',
          content: '',
          toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }],
          metadata: { nested: { list: [1, 'two', null, true] } },
        }),
        testMessage(4, { role: 'tool', name: 'lookup', toolCallId: 'call_1', content: '{"found":true}' }),
      ];
      await store.append('s1', first);
      await store.append('s1', second);
      const loaded = await store.load('s1');
      expect(loaded?.state).toBeUndefined();
      expect(loaded?.messages).toEqual([...first, ...second]);
    });

    it('seq is the number of messages after the append', async () => {
      const store = await makeStore();
      expect(await store.append('s1', [testMessage(1), testMessage(2)])).toEqual({ seq: 2 });
      expect(await store.append('s1', [testMessage(3)])).toEqual({ seq: 3 });
      expect(await store.append('s1', [testMessage(4), testMessage(5), testMessage(6)])).toEqual({ seq: 6 });
      expect(await store.append('s2', [testMessage(7)])).toEqual({ seq: 1 });
    });

    it('stored data is a copy: mutating inputs or loaded values changes nothing', async () => {
      const store = await makeStore();
      const input = [testMessage(1, { metadata: { tag: 'a' } })];
      await store.append('s1', input);
      input[0]!.content = 'changed';
      input.push(testMessage(2));
      const loaded = await store.load('s1');
      loaded!.messages[0]!.metadata!.tag = 'b';
      expect((await store.load('s1'))?.messages).toEqual([testMessage(1, { metadata: { tag: 'a' } })]);
    });

    it('saveState then load returns the state', async () => {
      const store = await makeStore();
      const saved = testState('s1', { data: { topic: 'AI', step: 2, nested: { ok: true } } });
      saved.agents = [{ name: 'Assistant', instructions: 'Be brief.', memory: true }];
      saved.metadata = { origin: 'test' };
      await store.saveState('s1', saved);
      expect(await store.load('s1')).toEqual({ state: saved, messages: [] });
    });

    it('saveState replaces the previous state', async () => {
      const store = await makeStore();
      await store.saveState('s1', testState('s1', { data: { a: 1 } }));
      await store.append('s1', [testMessage(1)]);
      await store.saveState('s1', testState('s1', { data: { b: 2 } }));
      const loaded = await store.load('s1');
      expect(loaded?.state?.data).toEqual({ b: 2 });
      expect(loaded?.messages).toEqual([testMessage(1)]);
    });

    it('saveState and updateState refuse a state that is not JSON with invalid_input, and write nothing', async () => {
      const store = await makeStore();
      const kept = testState('s1', { data: { kept: true } });
      await store.saveState('s1', kept);
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const values: Array<[string, unknown]> = [
        ['a bigint', 1n],
        ['a cycle', circular],
        ['a Map', new Map([['a', 1]])],
        ['a Date', new Date(0)],
        ['NaN', Number.NaN],
        ['Infinity', Number.POSITIVE_INFINITY],
        ['a function', () => 1],
        ['undefined in an array', [1, undefined]],
      ];
      for (const [name, value] of values) {
        const bad = testState('s1', { data: { bad: { deep: value } } });
        const error = await rejectionOf(store.saveState('s1', bad));
        expect((error as { code?: unknown })?.code, `saveState with ${name}`).toBe('invalid_input');
        if (typeof store.updateState === 'function') {
          const refused = await rejectionOf(store.updateState('s1', () => bad));
          expect((refused as { code?: unknown })?.code, `updateState with ${name}`).toBe('invalid_input');
        }
      }
      expect((await store.load('s1'))?.state).toEqual(kept);
    });

    it('saveState leaves out an object property that is undefined, as JSON does', async () => {
      const store = await makeStore();
      await store.saveState(
        's1',
        testState('s1', { data: { gone: undefined, nested: { gone: undefined, n: 1 } } }),
      );
      const data = (await store.load('s1'))?.state?.data;
      expect(data).toEqual({ nested: { n: 1 } });
      expect(Object.keys(data ?? {})).toEqual(['nested']);
      expect(Object.keys((data?.nested ?? {}) as object)).toEqual(['n']);
    });

    it('list returns every session and filters by userId', async () => {
      const store = await makeStore();
      expect(await collect(store.list())).toEqual([]);
      await store.saveState('a', testState('a'));
      await store.saveState('b', testState('b', { userId: 'u2' }));
      await store.saveState('c', testState('c'));
      await store.append('d', [testMessage(1)]);
      const all = await collect(store.list());
      expect(all.map((row) => row.sessionId)).toEqual(['a', 'b', 'c', 'd']);
      expect(all[0]).toEqual({
        sessionId: 'a',
        userId: 'u1',
        createdAt: '2025-01-01T00:00:00.000Z',
        updatedAt: '2025-01-02T00:00:00.000Z',
      });
      expect(all[3]?.userId).toBeUndefined();
      const u1 = await collect(store.list({ userId: 'u1' }));
      expect(u1.map((row) => row.sessionId)).toEqual(['a', 'c']);
      expect(await collect(store.list({ userId: 'nobody' }))).toEqual([]);
    });

    it("list's updatedAt is the later of the state's and the last message's createdAt", async () => {
      const store = await makeStore();
      const at = (day: number): string => new Date(Date.UTC(2025, 0, day)).toISOString();
      await store.saveState('state-first', testState('state-first', { updatedAt: at(2) }));
      await store.append('state-first', [testMessage(1, { createdAt: at(3) })]);
      await store.append('state-last', [testMessage(2, { createdAt: at(3) })]);
      await store.saveState('state-last', testState('state-last', { updatedAt: at(4) }));
      await store.saveState('state-only', testState('state-only', { updatedAt: at(5) }));
      await store.append('messages-only', [testMessage(3, { createdAt: at(6) })]);
      const times = Object.fromEntries(
        (await collect(store.list())).map((row) => [row.sessionId, row.updatedAt]),
      );
      expect(times).toEqual({
        'state-first': at(3),
        'state-last': at(4),
        'state-only': at(5),
        'messages-only': at(6),
      });
    });

    it('delete removes the session; deleting an unknown session is fine', async () => {
      const store = await makeStore();
      await store.saveState('s1', testState('s1'));
      await store.append('s1', [testMessage(1)], { idempotencyKey: 'k1' });
      await store.append('s2', [testMessage(2)]);
      await store.delete('s1');
      expect(await store.load('s1')).toBeUndefined();
      expect((await collect(store.list())).map((row) => row.sessionId)).toEqual(['s2']);
      await store.delete('s1');
      await store.delete('never-existed');
      // A deleted session starts over, and forgets its idempotency keys.
      expect(fresh(await store.append('s1', [testMessage(3)], { idempotencyKey: 'k1' }))).toEqual({ seq: 1 });
      expect((await store.load('s1'))?.messages).toEqual([testMessage(3)]);
      expect((await store.load('s2'))?.messages).toEqual([testMessage(2)]);
    });

    it('a repeated append with the same idempotencyKey is stored once and returns the same seq', async () => {
      const store = await makeStore();
      await store.append('s1', [testMessage(1)]);
      const first = await store.append('s1', [testMessage(2), testMessage(3)], { idempotencyKey: 'turn-1' });
      expect(fresh(first)).toEqual({ seq: 3 });
      expect(await store.append('s1', [testMessage(4)])).toEqual({ seq: 4 });
      // `replayed` is optional; a store that gives it says true for the retry, false for the first.
      expect(
        await store.append('s1', [testMessage(2), testMessage(3)], { idempotencyKey: 'turn-1' }),
      ).toEqual(first.replayed === undefined ? { seq: 3 } : { seq: 3, replayed: true });
      expect(fresh(await store.append('s1', [testMessage(5)], { idempotencyKey: 'turn-2' }))).toEqual({
        seq: 5,
      });
      // Keys are per session.
      expect(fresh(await store.append('s2', [testMessage(6)], { idempotencyKey: 'turn-1' }))).toEqual({
        seq: 1,
      });
      const ids = (await store.load('s1'))?.messages.map((m) => m.id);
      expect(ids).toEqual(['msg_1', 'msg_2', 'msg_3', 'msg_4', 'msg_5']);
    });

    it('an empty append with a key it never saw is not said to be replayed', async () => {
      const store = await makeStore();
      const results = await Promise.all([
        store.append('s1', [testMessage(1)]),
        store.append('s1', [testMessage(2)]),
        store.append('s1', [], { idempotencyKey: 'new' }),
      ]);
      expect(results[2]?.replayed).not.toBe(true);
      // Concurrent appends land in some order, each whole.
      const ids = (await store.load('s1'))?.messages.map((m) => m.id).sort();
      expect(ids).toEqual(['msg_1', 'msg_2']);
    });

    it('concurrent appends with the same idempotencyKey store the messages once', async () => {
      const store = await makeStore();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.append('s1', [testMessage(1)], { idempotencyKey: 'once' })),
      );
      expect(results.map((result) => result.seq)).toEqual(Array.from({ length: 10 }, () => 1));
      // A store that tells: one stored them, every other one kept that append.
      if (results.some((result) => result.replayed !== undefined)) {
        expect(results.filter((result) => result.replayed === false)).toHaveLength(1);
        expect(results.filter((result) => result.replayed === true)).toHaveLength(9);
      }
      expect((await store.load('s1'))?.messages).toEqual([testMessage(1)]);
    });

    it('200 concurrent appends to one session lose nothing and store each message once', async () => {
      const store = await makeStore();
      const count = 200;
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) => store.append('busy', [testMessage(i)])),
      );
      const seqs = results.map((r) => r.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      const loaded = await store.load('busy');
      expect(loaded?.messages).toHaveLength(count);
      const ids = loaded!.messages.map((m) => m.id);
      expect(new Set(ids).size).toBe(count);
      // Each append's seq is the position of its message.
      results.forEach(({ seq }, i) => {
        expect(loaded!.messages[seq - 1]?.id).toBe(`msg_${i}`);
      });
    });

    it('rejects bad session ids with invalid_input and writes nothing', async () => {
      const store = await makeStore();
      for (const id of BAD_IDS) {
        const attempts: Array<[string, Promise<unknown>]> = [
          ['load', store.load(id)],
          ['append', store.append(id, [testMessage(1)])],
          ['saveState', store.saveState(id, testState(id))],
          ['delete', store.delete(id)],
        ];
        for (const [method, attempt] of attempts) {
          const error = await rejectionOf(attempt);
          expect(error, `${method}(${JSON.stringify(id)})`).toBeInstanceOf(Error);
          expect((error as { code?: unknown }).code, `${method}(${JSON.stringify(id)})`).toBe(
            'invalid_input',
          );
        }
      }
      expect(await collect(store.list())).toEqual([]);
    });

    it('messages appended to one session never appear in another', async () => {
      const store = await makeStore();
      await Promise.all([
        store.append('alpha', [testMessage(1, { content: 'for alpha' })]),
        store.append('beta', [testMessage(2, { content: 'for beta' })]),
        store.append('alpha', [testMessage(3, { content: 'for alpha' })]),
        store.append('alpha.beta', [testMessage(4, { content: 'for alpha.beta' })]),
      ]);
      const alpha = await store.load('alpha');
      expect(alpha?.messages.map((m) => m.content)).toEqual(['for alpha', 'for alpha']);
      expect((await store.load('beta'))?.messages.map((m) => m.id)).toEqual(['msg_2']);
      expect((await store.load('alpha.beta'))?.messages.map((m) => m.id)).toEqual(['msg_4']);
    });
  };

  /** `loadSince`, for the stores that have it. */
  const loadSinceCases = (): void => {
    const withLoadSince = async (
      context: TestContext,
    ): Promise<(SessionStore & Required<Pick<SessionStore, 'loadSince'>>) | undefined> => {
      const store = await makeStore();
      if (typeof store.loadSince === 'function')
        return store as SessionStore & Required<Pick<SessionStore, 'loadSince'>>;
      context?.skip?.('the store has no loadSince (optional)');
      return undefined;
    };

    it('loadSince of an unknown session is undefined', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      expect(await store.loadSince('unknown')).toBeUndefined();
      expect(await store.loadSince('unknown', { seq: 3, epoch: 'x' })).toBeUndefined();
    });

    it('loadSince without a cursor returns the state and the whole history', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      const saved = testState('s1', { data: { topic: 'AI' } });
      await store.saveState('s1', saved);
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const tail = await store.loadSince('s1');
      expect(tail).toMatchObject({
        state: saved,
        messages: [testMessage(1), testMessage(2)],
        from: 0,
        seq: 2,
      });
      expect(typeof tail?.epoch).toBe('string');
      // A session with a state and no history yet.
      await store.saveState('s2', testState('s2', { userId: 'u2' }));
      expect(await store.loadSince('s2')).toMatchObject({
        state: testState('s2', { userId: 'u2' }),
        messages: [],
        from: 0,
        seq: 0,
      });
    });

    it('loadSince with a cursor returns only the messages after it, and the current state', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const first = await store.loadSince('s1');
      const cursor = { seq: first!.seq, epoch: first!.epoch };
      const unchanged = await store.loadSince('s1', cursor);
      expect(unchanged).toEqual({ state: undefined, messages: [], from: 2, seq: 2, epoch: first!.epoch });
      await store.append('s1', [testMessage(3)]);
      await store.append('s1', [testMessage(4), testMessage(5)], { idempotencyKey: 'k' });
      await store.saveState('s1', testState('s1', { data: { step: 2 } }));
      const tail = await store.loadSince('s1', cursor);
      expect(tail).toMatchObject({
        state: testState('s1', { data: { step: 2 } }),
        messages: [testMessage(3), testMessage(4), testMessage(5)],
        from: 2,
        seq: 5,
        epoch: first!.epoch,
      });
      // An older cursor of the same history gives more; every tail continues its cursor.
      expect((await store.loadSince('s1', { seq: 1, epoch: first!.epoch }))?.messages).toEqual([
        testMessage(2),
        testMessage(3),
        testMessage(4),
        testMessage(5),
      ]);
      expect(await store.loadSince('s1', { seq: 5, epoch: first!.epoch })).toMatchObject({
        messages: [],
        from: 5,
        seq: 5,
      });
    });

    it('loadSince with a stateVersion answers the state again only when it changed', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      await store.saveState('s1', testState('s1', { data: { step: 1 } }));
      await store.append('s1', [testMessage(1)]);
      const first = (await store.loadSince('s1'))!;
      expect(first.state).toEqual(testState('s1', { data: { step: 1 } }));
      // Optional: a store without versions answers the state every time.
      if (first.stateVersion === undefined) return;
      const cursor = { seq: first.seq, epoch: first.epoch, stateVersion: first.stateVersion };
      const again = (await store.loadSince('s1', cursor))!;
      if (again.stateUnchanged) expect(again.state).toBeUndefined();
      else expect(again.state).toEqual(first.state);
      expect(again.stateVersion).toBe(first.stateVersion);
      await store.append('s1', [testMessage(2)]);
      expect((await store.loadSince('s1', cursor))?.messages).toEqual([testMessage(2)]);
      await store.saveState('s1', testState('s1', { data: { step: 2 } }));
      const changed = (await store.loadSince('s1', cursor))!;
      expect(changed.stateUnchanged).not.toBe(true);
      expect(changed.state).toEqual(testState('s1', { data: { step: 2 } }));
      expect(changed.stateVersion).not.toBe(first.stateVersion);
      if (typeof store.updateState === 'function') {
        const next = { seq: changed.seq, epoch: changed.epoch, stateVersion: changed.stateVersion! };
        await store.updateState('s1', (state) => ({ ...state!, data: { step: 3 } }));
        expect((await store.loadSince('s1', next))?.state).toEqual(testState('s1', { data: { step: 3 } }));
      }
      // Deleted and made again: another epoch, the new state whatever version the cursor names.
      await store.delete('s1');
      await store.saveState('s1', testState('s1', { data: { step: 9 } }));
      expect((await store.loadSince('s1', cursor))?.state).toEqual(testState('s1', { data: { step: 9 } }));
    });

    it('loadSince gives the whole history for a cursor that does not hold', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const { epoch } = (await store.loadSince('s1'))!;
      const whole = { messages: [testMessage(1), testMessage(2)], from: 0, seq: 2, epoch };
      expect(await store.loadSince('s1', { seq: 3, epoch })).toMatchObject(whole);
      expect(await store.loadSince('s1', { seq: 1, epoch: `${epoch}-other` })).toMatchObject(whole);
    });

    it('loadSince after the session was deleted and made again gives the new history whole', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const before = (await store.loadSince('s1'))!;
      await store.delete('s1');
      expect(await store.loadSince('s1', { seq: 2, epoch: before.epoch })).toBeUndefined();
      // Made again, longer than before: the old cursor must not be taken as a prefix of it.
      await store.append('s1', [testMessage(3), testMessage(4), testMessage(5)]);
      const after = await store.loadSince('s1', { seq: 2, epoch: before.epoch });
      expect(after).toMatchObject({
        messages: [testMessage(3), testMessage(4), testMessage(5)],
        from: 0,
        seq: 3,
      });
      expect(after?.epoch).not.toBe(before.epoch);
    });

    it('loadSince returns copies: mutating them changes nothing', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      await store.saveState('s1', testState('s1', { data: { nested: { a: 1 } } }));
      await store.append('s1', [testMessage(1, { metadata: { tag: 'a' } })]);
      const tail = await store.loadSince('s1');
      tail!.messages[0]!.metadata!.tag = 'b';
      (tail!.state!.data.nested as { a: number }).a = 2;
      const again = await store.loadSince('s1');
      expect(again?.messages).toEqual([testMessage(1, { metadata: { tag: 'a' } })]);
      expect(again?.state?.data).toEqual({ nested: { a: 1 } });
    });

    it('tails chained from cursors while others append add up to the history load returns', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      const held: Message[] = [];
      let cursor: { seq: number; epoch: string } | undefined;
      const reader = async (): Promise<void> => {
        const tail = await store.loadSince('busy', cursor);
        if (!tail) return;
        if (tail.from === 0) held.length = 0;
        expect(tail.from).toBe(tail.from === 0 ? 0 : held.length);
        held.push(...tail.messages);
        expect(held).toHaveLength(tail.seq);
        cursor = { seq: tail.seq, epoch: tail.epoch };
      };
      const writes = Array.from({ length: 60 }, (_, i) =>
        store.append('busy', i % 3 === 0 ? [testMessage(i), testMessage(i + 1000)] : [testMessage(i)]),
      );
      for (let i = 0; i < 20; i++) await reader();
      await Promise.all(writes);
      await reader();
      expect(held).toEqual((await store.load('busy'))?.messages);
      expect(held).toHaveLength(80);
    });

    it('loadSince refuses bad session ids with invalid_input', async (context) => {
      const store = await withLoadSince(context);
      if (!store) return;
      for (const id of BAD_IDS) {
        const error = await rejectionOf(store.loadSince(id));
        expect((error as { code?: unknown })?.code, `loadSince(${JSON.stringify(id)})`).toBe('invalid_input');
      }
    });
  };

  /** `updateState`, for the stores that have it. */
  const updateStateCases = (): void => {
    type Updating = SessionStore & Required<Pick<SessionStore, 'updateState'>>;
    const withUpdateState = async (context: TestContext): Promise<Updating | undefined> => {
      const store = await makeStore();
      if (typeof store.updateState === 'function') return store as Updating;
      context?.skip?.('the store has no updateState (optional)');
      return undefined;
    };
    /** A second store on the same backend when the caller can open one, else `store` itself. */
    const another = async (store: Updating): Promise<Updating> => {
      if (!options.reopen) return store;
      const second = await options.reopen(store);
      made.push(second);
      expect(typeof second.updateState).toBe('function');
      return second as Updating;
    };
    const increment =
      (seen?: Array<SessionState | undefined>) =>
      (current: SessionState | undefined): SessionState => {
        seen?.push(current);
        const base = current ?? testState('s1', { data: { n: 0 } });
        return { ...base, data: { ...base.data, n: (base.data.n as number) + 1 } };
      };

    it('updateState of a missing session gets undefined; what it returns is stored and returned', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      const seen: Array<SessionState | undefined> = [];
      const first = testState('s1', { data: { topic: 'AI', nested: { ok: true } } });
      first.agents = [{ name: 'Assistant', memory: true }];
      first.metadata = { origin: 'test' };
      const written = await store.updateState('s1', (current) => {
        seen.push(current);
        return first;
      });
      expect(seen).toEqual([undefined]);
      expect(written).toEqual(first);
      expect(await store.load('s1')).toEqual({ state: first, messages: [] });
      // The next update gets what the first wrote.
      seen.length = 0;
      const second = await store.updateState('s1', (current) => {
        seen.push(current);
        return { ...current!, data: { ...current!.data, step: 2 } };
      });
      expect(seen).toEqual([first]);
      expect(second.data).toEqual({ topic: 'AI', nested: { ok: true }, step: 2 });
      expect((await store.load('s1'))?.state).toEqual(second);
      expect((await collect(store.list({ userId: 'u1' }))).map((row) => row.sessionId)).toEqual(['s1']);
    });

    it('updateState returns a copy: mutating it, or what update was given, changes nothing stored', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      await store.saveState('s1', testState('s1', { data: { nested: { a: 1 } } }));
      const written = await store.updateState('s1', (current) => {
        const next = structuredClone(current!);
        next.data.b = 2;
        (current!.data.nested as { a: number }).a = 5; // not part of the result
        return next;
      });
      (written.data.nested as { a: number }).a = 9;
      written.data.c = 3;
      expect((await store.load('s1'))?.state?.data).toEqual({ nested: { a: 1 }, b: 2 });
    });

    it('updateState refuses an invalid result with invalid_input, as saveState does, and writes nothing', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const invalid: Array<[string, unknown]> = [
        ['null', null],
        ['an array', []],
        ['schemaVersion 2', { ...testState('s1'), schemaVersion: 2 }],
        ['not JSON-serialisable', testState('s1', { data: { circular } })],
      ];
      await store.saveState('s1', testState('s1', { data: { kept: true } }));
      let checked = 0;
      for (const [name, bad] of invalid) {
        // Only what the store's saveState refuses: the port leaves validation to the store.
        const refused = await store.saveState('probe', bad as SessionState).then(
          () => false,
          () => true,
        );
        if (!refused) continue;
        checked++;
        for (const id of ['s1', 'missing']) {
          const error = await rejectionOf(store.updateState(id, () => bad as SessionState));
          expect((error as { code?: unknown })?.code, `${name} for ${id}`).toBe('invalid_input');
        }
      }
      if (checked === 0) {
        context?.skip?.('the store validates no state (saveState accepts all of these)');
        return;
      }
      expect((await store.load('s1'))?.state).toEqual(testState('s1', { data: { kept: true } }));
      expect(await store.load('missing')).toBeUndefined();
      const listed = (await collect(store.list())).map((row) => row.sessionId);
      expect(listed.filter((id) => id !== 'probe')).toEqual(['s1']);
    });

    it('updateState rejects with the error update throws, and writes nothing', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      await store.saveState('s1', testState('s1', { data: { n: 1 } }));
      await store.append('s1', [testMessage(1)]);
      const thrown = new Error('update refused');
      expect(
        await rejectionOf(
          store.updateState('s1', () => {
            throw thrown;
          }),
        ),
      ).toBe(thrown);
      expect(await store.load('s1')).toEqual({
        state: testState('s1', { data: { n: 1 } }),
        messages: [testMessage(1)],
      });
      expect(
        await rejectionOf(
          store.updateState('missing', () => {
            throw thrown;
          }),
        ),
      ).toBe(thrown);
      expect(await store.load('missing')).toBeUndefined();
      expect((await collect(store.list())).map((row) => row.sessionId)).toEqual(['s1']);
    });

    it('concurrent updateStates (through two stores on one backend, when it can) lose no update', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      const second = await another(store);
      const count = 40;
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          (i % 2 === 0 ? store : second).updateState('s1', increment()),
        ),
      );
      // Each update saw the one before it: the values written are 1..count, each once.
      expect(results.map((r) => r.data.n as number).sort((a, b) => a - b)).toEqual(
        Array.from({ length: count }, (_, i) => i + 1),
      );
      expect((await store.load('s1'))?.state?.data.n).toBe(count);
      expect((await second.load('s1'))?.state?.data.n).toBe(count);
    });

    it('updateState racing saveState and appends keeps the history whole and in order', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      const second = await another(store);
      await store.append('s1', [testMessage(0)]);
      const work: Array<Promise<unknown>> = [];
      for (let i = 1; i <= 30; i++) {
        work.push((i % 2 === 0 ? store : second).append('s1', [testMessage(i)]));
        work.push((i % 2 === 0 ? second : store).updateState('s1', increment()));
      }
      await Promise.all(work);
      const loaded = await store.load('s1');
      expect(loaded?.state?.data.n).toBe(30);
      expect(loaded?.messages).toHaveLength(31);
      expect(new Set(loaded?.messages.map((m) => m.id)).size).toBe(31);
      expect(loaded?.messages[0]).toEqual(testMessage(0));
      // An append after the updates comes after every message.
      expect(await store.append('s1', [testMessage(99)])).toEqual({ seq: 32 });
      // A saveState after an updateState replaces it; an updateState after a saveState sees it.
      await store.saveState('s1', testState('s1', { data: { n: 100 } }));
      expect((await second.updateState('s1', increment())).data.n).toBe(101);
      expect((await store.load('s1'))?.messages.at(-1)).toEqual(testMessage(99));
    });

    it('updateState leaves the history and its epoch alone; load and loadSince see the new state', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      await store.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'k' });
      const before = await store.loadSince?.('s1');
      const written = await store.updateState('s1', increment());
      expect(written.data).toEqual({ n: 1 });
      expect(await store.load('s1')).toEqual({ state: written, messages: [testMessage(1), testMessage(2)] });
      // The idempotency key still holds.
      const retried = await store.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'k' });
      expect(retried.seq).toBe(2);
      expect(retried.replayed).not.toBe(false);
      if (before === undefined) return; // no loadSince
      const tail = await store.loadSince!('s1', { seq: before.seq, epoch: before.epoch });
      expect(tail).toMatchObject({ state: written, messages: [], from: 2, seq: 2, epoch: before.epoch });
      // A session with only a state made by updateState: loadSince sees it.
      const only = await store.updateState('s2', increment());
      expect(await store.loadSince!('s2')).toMatchObject({ state: only, messages: [], from: 0, seq: 0 });
    });

    it('updateState of a deleted session starts it again, with no history', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      await store.updateState('s1', increment());
      await store.append('s1', [testMessage(1)]);
      await store.delete('s1');
      const seen: Array<SessionState | undefined> = [];
      await store.updateState('s1', increment(seen));
      expect(seen).toEqual([undefined]);
      expect(await store.load('s1')).toEqual({ state: testState('s1', { data: { n: 1 } }), messages: [] });
    });

    it('updateState refuses bad session ids with invalid_input and never calls update', async (context) => {
      const store = await withUpdateState(context);
      if (!store) return;
      let calls = 0;
      for (const id of BAD_IDS) {
        const error = await rejectionOf(
          store.updateState(id, () => {
            calls++;
            return testState(id);
          }),
        );
        expect((error as { code?: unknown })?.code, `updateState(${JSON.stringify(id)})`).toBe(
          'invalid_input',
        );
      }
      expect(calls).toBe(0);
      expect(await collect(store.list())).toEqual([]);
    });
  };

  const all = (): void => {
    cases();
    loadSinceCases();
    updateStateCases();
  };
  if (api.describe) api.describe('SessionStore conformance', all);
  else all();
}
