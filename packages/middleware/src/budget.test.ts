import type { TurnResult } from '@sessions/core';
import { BudgetExceededError, compose, estimateTokens, SessionsError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import type { BudgetStore } from './budget.js';
import { budget } from './budget.js';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import { makeTurn } from './turn.test-helper.js';

const usage = (totalTokens: number): TurnResult['usage'] => ({
  inputTokens: totalTokens - 1,
  outputTokens: 1,
  totalTokens,
});

/** An async store that yields to the event loop on every call, as a database would. */
class SlowStore implements BudgetStore {
  readonly data = new Map<string, number>();
  async get(key: string): Promise<number | undefined> {
    await new Promise((r) => setImmediate(r));
    return this.data.get(key);
  }
  async set(key: string, tokens: number): Promise<void> {
    await new Promise((r) => setImmediate(r));
    this.data.set(key, tokens);
  }
}

describe('budget', () => {
  it('adds up usage.totalTokens and refuses turns once maxTokens is spent', async () => {
    const store = new Map<string, number>();
    let calls = 0;
    const run = compose([budget({ maxTokens: 100, store })], async () => {
      calls += 1;
      return { content: 'ok', usage: usage(40) };
    });
    await run(makeTurn());
    await run(makeTurn());
    expect(store.get('s1')).toBe(80);
    await run(makeTurn()); // starts under the cap, crosses it
    expect(store.get('s1')).toBe(120);

    const error = await run(makeTurn()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(SessionsError.is(error) && error.code).toBe('budget_exceeded');
    expect((error as Error).message).toBe(
      'Token budget of 100 for "s1" is spent (120 used): start a new session or raise maxTokens',
    );
    expect(calls).toBe(3);
  });

  it('estimates about four characters per token when the result has no usage', async () => {
    const store = new Map<string, number>();
    const run = compose([budget({ maxTokens: 1000, store })], async () => ({ content: 'x'.repeat(10) }));
    await run(makeTurn({ message: 'y'.repeat(8) }));
    expect(store.get('s1')).toBe(2 + 3);
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcde')).toBe(2);
  });

  it('keeps one count per session, or per custom key, and takes a custom count', async () => {
    const store = new Map<string, number>();
    const answer = async (): Promise<TurnResult> => ({ content: 'ok', usage: usage(10) });
    const perSession = compose([budget({ maxTokens: 10, store })], answer);
    await perSession(makeTurn({ sessionId: 'a' }));
    await perSession(makeTurn({ sessionId: 'b' }));
    await expect(perSession(makeTurn({ sessionId: 'a' }))).rejects.toBeInstanceOf(BudgetExceededError);

    const users = new Map<string, number>();
    const perUser = compose(
      [budget({ maxTokens: 50, store: users, key: (turn) => turn.userId, count: () => 7 })],
      answer,
    );
    await perUser(makeTurn({ sessionId: 'a' }));
    await perUser(makeTurn({ sessionId: 'b' }));
    expect(users.get('u1')).toBe(14);
  });

  it('counts nothing for a turn that fails', async () => {
    const store = new Map<string, number>();
    const run = compose([budget({ maxTokens: 10, store })], async () => {
      throw new Error('model down');
    });
    await expect(run(makeTurn())).rejects.toThrow('model down');
    expect(store.has('s1')).toBe(false);
  });

  it('persists through an async store shared by two instances', async () => {
    const store = new SlowStore();
    const answer = async (): Promise<TurnResult> => ({ content: 'ok', usage: usage(30) });
    await compose([budget({ maxTokens: 50, store })], answer)(makeTurn());
    await compose([budget({ maxTokens: 50, store })], answer)(makeTurn());
    expect(store.data.get('s1')).toBe(60);
    await expect(compose([budget({ maxTokens: 50, store })], answer)(makeTurn())).rejects.toBeInstanceOf(
      BudgetExceededError,
    );
  });

  it('loses no count when turns of one session run at once', async () => {
    const store = new SlowStore();
    const run = compose([budget({ maxTokens: 1_000_000, store })], async (turn) => ({
      content: 'ok',
      usage: usage(Number(turn.message)),
    }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => run(makeTurn({ message: String(i + 1) }))));
    expect(store.data.get('s1')).toBe(210);
  });

  it.each([
    ['options', undefined],
    ['maxTokens', { maxTokens: 0 }],
    ['maxTokens', { maxTokens: Number.NaN }],
    ['maxTokens', { maxTokens: '1000' }],
    ['maxTokens', {}],
    ['store', { maxTokens: 10, store: {} }],
    ['store', { maxTokens: 10, store: { get: () => 0 } }],
    ['store', { maxTokens: 10, store: null }],
    ['key', { maxTokens: 10, key: 'sessionId' }],
    ['count', { maxTokens: 10, count: 5 }],
  ])('refuses a bad %s at once with InvalidInputError naming it', (option, options) => {
    expectInvalidOption(() => budget(options as never), 'budget', option);
  });
});
