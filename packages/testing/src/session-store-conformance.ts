import type { Message, SessionState, SessionStore, SessionSummary } from '@sessions/core';
import type { ExpectStatic } from 'vitest';

/**
 * The test functions the suite runs with, passed by the caller (as `@keyv/test-suite` does) so an
 * adapter outside this repository can run the suite with its own copy of vitest.
 */
export interface ConformanceApi {
  /** When given, the cases are grouped in `describe('SessionStore conformance', ...)`. */
  describe?: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>) => void;
  expect: ExpectStatic;
  /** When given with `afterEach`, the suite forgets the stores of the previous case. */
  beforeEach?: (fn: () => unknown) => void;
  /**
   * When given, the stores a case made are closed after it, if they have a `close()` (or
   * `Symbol.asyncDispose`) method. Temp dirs and the like stay the caller's to clean.
   */
  afterEach?: (fn: () => unknown) => void;
}

interface Closable {
  close?: () => unknown;
  [Symbol.asyncDispose]?: () => PromiseLike<void>;
}

/** Session ids every store must refuse with an `invalid_input` error. */
const BAD_IDS: readonly string[] = ['../x', '', 'a/b', '.', '..', 'x'.repeat(129), 'a\u0000b'];

function message(n: number, fields: Partial<Message> = {}): Message {
  return {
    id: `msg_${n}`,
    role: 'user',
    content: `message ${n}`,
    createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, n % 60)).toISOString(),
    ...fields,
  };
}

function state(sessionId: string, userId: string, data: Record<string, unknown> = {}): SessionState {
  return {
    schemaVersion: 1,
    sessionId,
    userId,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-02T00:00:00.000Z',
    data,
    agents: [],
  };
}

async function collect(iterable: AsyncIterable<SessionSummary>): Promise<SessionSummary[]> {
  const out: SessionSummary[] = [];
  for await (const row of iterable) out.push(row);
  return out.sort((a, b) => a.sessionId.localeCompare(b.sessionId));
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
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
): void {
  const { it, expect } = api;
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
        message(1, { role: 'system', content: 'You are helpful.' }),
        message(2, { content: 'Hi\nthere "quoted" \u2028 ünïcødé 🎉', metadata: { source: 'cli', n: 1 } }),
      ];
      const second: Message[] = [
        message(3, {
          role: 'assistant',
          name: 'Assistant',
          content: '',
          toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }],
          metadata: { nested: { list: [1, 'two', null, true] } },
        }),
        message(4, { role: 'tool', name: 'lookup', toolCallId: 'call_1', content: '{"found":true}' }),
      ];
      await store.append('s1', first);
      await store.append('s1', second);
      const loaded = await store.load('s1');
      expect(loaded?.state).toBeUndefined();
      expect(loaded?.messages).toEqual([...first, ...second]);
    });

    it('seq is the number of messages after the append', async () => {
      const store = await makeStore();
      expect(await store.append('s1', [message(1), message(2)])).toEqual({ seq: 2 });
      expect(await store.append('s1', [message(3)])).toEqual({ seq: 3 });
      expect(await store.append('s1', [message(4), message(5), message(6)])).toEqual({ seq: 6 });
      expect(await store.append('s2', [message(7)])).toEqual({ seq: 1 });
    });

    it('stored data is a copy: mutating inputs or loaded values changes nothing', async () => {
      const store = await makeStore();
      const input = [message(1, { metadata: { tag: 'a' } })];
      await store.append('s1', input);
      input[0]!.content = 'changed';
      input.push(message(2));
      const loaded = await store.load('s1');
      loaded!.messages[0]!.metadata!.tag = 'b';
      expect((await store.load('s1'))?.messages).toEqual([message(1, { metadata: { tag: 'a' } })]);
    });

    it('saveState then load returns the state', async () => {
      const store = await makeStore();
      const saved = state('s1', 'u1', { topic: 'AI', step: 2, nested: { ok: true } });
      saved.agents = [{ name: 'Assistant', instructions: 'Be brief.', memory: true }];
      saved.metadata = { origin: 'test' };
      await store.saveState('s1', saved);
      expect(await store.load('s1')).toEqual({ state: saved, messages: [] });
    });

    it('saveState replaces the previous state', async () => {
      const store = await makeStore();
      await store.saveState('s1', state('s1', 'u1', { a: 1 }));
      await store.append('s1', [message(1)]);
      await store.saveState('s1', state('s1', 'u1', { b: 2 }));
      const loaded = await store.load('s1');
      expect(loaded?.state?.data).toEqual({ b: 2 });
      expect(loaded?.messages).toEqual([message(1)]);
    });

    it('list returns every session and filters by userId', async () => {
      const store = await makeStore();
      expect(await collect(store.list())).toEqual([]);
      await store.saveState('a', state('a', 'u1'));
      await store.saveState('b', state('b', 'u2'));
      await store.saveState('c', state('c', 'u1'));
      await store.append('d', [message(1)]);
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

    it('delete removes the session; deleting an unknown session is fine', async () => {
      const store = await makeStore();
      await store.saveState('s1', state('s1', 'u1'));
      await store.append('s1', [message(1)], { idempotencyKey: 'k1' });
      await store.append('s2', [message(2)]);
      await store.delete('s1');
      expect(await store.load('s1')).toBeUndefined();
      expect((await collect(store.list())).map((row) => row.sessionId)).toEqual(['s2']);
      await store.delete('s1');
      await store.delete('never-existed');
      // A deleted session starts over, and forgets its idempotency keys.
      expect(await store.append('s1', [message(3)], { idempotencyKey: 'k1' })).toEqual({ seq: 1 });
      expect((await store.load('s1'))?.messages).toEqual([message(3)]);
      expect((await store.load('s2'))?.messages).toEqual([message(2)]);
    });

    it('a repeated append with the same idempotencyKey is stored once and returns the same seq', async () => {
      const store = await makeStore();
      await store.append('s1', [message(1)]);
      const first = await store.append('s1', [message(2), message(3)], { idempotencyKey: 'turn-1' });
      expect(first).toEqual({ seq: 3 });
      expect(await store.append('s1', [message(4)])).toEqual({ seq: 4 });
      expect(await store.append('s1', [message(2), message(3)], { idempotencyKey: 'turn-1' })).toEqual({
        seq: 3,
      });
      expect(await store.append('s1', [message(5)], { idempotencyKey: 'turn-2' })).toEqual({ seq: 5 });
      // Keys are per session.
      expect(await store.append('s2', [message(6)], { idempotencyKey: 'turn-1' })).toEqual({ seq: 1 });
      const ids = (await store.load('s1'))?.messages.map((m) => m.id);
      expect(ids).toEqual(['msg_1', 'msg_2', 'msg_3', 'msg_4', 'msg_5']);
    });

    it('concurrent appends with the same idempotencyKey store the messages once', async () => {
      const store = await makeStore();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.append('s1', [message(1)], { idempotencyKey: 'once' })),
      );
      expect(results).toEqual(Array.from({ length: 10 }, () => ({ seq: 1 })));
      expect((await store.load('s1'))?.messages).toEqual([message(1)]);
    });

    it('200 concurrent appends to one session lose nothing and store each message once', async () => {
      const store = await makeStore();
      const count = 200;
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) => store.append('busy', [message(i)])),
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
          ['append', store.append(id, [message(1)])],
          ['saveState', store.saveState(id, state(id, 'u1'))],
          ['delete', store.delete(id)],
        ];
        for (const [method, attempt] of attempts) {
          const error = await errorOf(attempt);
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
        store.append('alpha', [message(1, { content: 'for alpha' })]),
        store.append('beta', [message(2, { content: 'for beta' })]),
        store.append('alpha', [message(3, { content: 'for alpha' })]),
        store.append('alpha.beta', [message(4, { content: 'for alpha.beta' })]),
      ]);
      const alpha = await store.load('alpha');
      expect(alpha?.messages.map((m) => m.content)).toEqual(['for alpha', 'for alpha']);
      expect((await store.load('beta'))?.messages.map((m) => m.id)).toEqual(['msg_2']);
      expect((await store.load('alpha.beta'))?.messages.map((m) => m.id)).toEqual(['msg_4']);
    });
  };

  if (api.describe) api.describe('SessionStore conformance', cases);
  else cases();
}
