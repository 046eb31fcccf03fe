import type { Middleware, TurnContext, TurnResult } from '@sessions/core';
import { BudgetExceededError, estimateTokens } from '@sessions/core';
import type { OptionRule } from './check-option.js';
import { aFunction, aNumber, anObject, checkOption, withMethods } from './check-option.js';

/**
 * Where `budget` keeps the tokens spent per key: a `Map<string, number>` is one; async methods are
 * fine too (a database, Keyv), so the count can outlive the process.
 */
export interface BudgetStore {
  get(key: string): number | undefined | Promise<number | undefined>;
  /** The return value is ignored (awaited when it is a promise). */
  set(key: string, tokens: number): unknown;
}

export interface BudgetOptions {
  /** Tokens a key may spend; once reached, its turns are refused. */
  maxTokens: number;
  /** Default: an in-process `Map` (forgotten on restart). */
  store?: BudgetStore;
  /** Whose tokens are counted together. Default: the session id. */
  key?: (turn: TurnContext) => string;
  /** Tokens a turn cost. Default: `usage.totalTokens`, else (message + response characters) / 4. */
  count?: (turn: TurnContext, result: TurnResult) => number;
}

const aStore: OptionRule = {
  ...withMethods('get', 'set'),
  expected: 'an object with get and set methods (a Map)',
};

const defaultCount = (turn: TurnContext, result: TurnResult): number =>
  result.usage?.totalTokens ?? estimateTokens(turn.message) + estimateTokens(result.content);

/**
 * Caps the tokens spent per session (or per `key`). A turn is refused with `BudgetExceededError`
 * (code `budget_exceeded`) before `next()` once the key has spent `maxTokens`; the turn that crosses
 * the cap still completes. Only turns that succeed are counted. Updates of one key are serialized
 * within this process, so concurrent turns lose no count.
 */
export const budget = (options: BudgetOptions): Middleware => {
  checkOption('budget', 'options', options, anObject);
  const {
    maxTokens,
    store = new Map<string, number>(),
    key = (turn: TurnContext) => turn.sessionId,
    count = defaultCount,
  } = options;
  checkOption(
    'budget',
    'maxTokens',
    maxTokens,
    aNumber({ min: 0, above: true, expected: 'a positive number' }),
  );
  checkOption('budget', 'store', store, aStore);
  checkOption('budget', 'key', key, aFunction);
  checkOption('budget', 'count', count, aFunction);
  const queues = new Map<string, Promise<unknown>>();
  /** Runs `task` after every earlier task of `k`. */
  const serialized = <T>(k: string, task: () => Promise<T>): Promise<T> => {
    const previous = queues.get(k) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    queues.set(k, settled);
    void settled.then(() => {
      if (queues.get(k) === settled) queues.delete(k);
    });
    return run;
  };

  return async function budget(turn, next) {
    const k = key(turn);
    const spent = (await serialized(k, async () => store.get(k))) ?? 0;
    if (spent >= maxTokens) {
      throw new BudgetExceededError(
        `Token budget of ${maxTokens} for "${k}" is spent (${spent} used): start a new session or raise maxTokens`,
      );
    }
    const result = await next();
    const tokens = Math.max(0, count(turn, result));
    await serialized(k, async () => store.set(k, ((await store.get(k)) ?? 0) + tokens));
    return result;
  };
};
