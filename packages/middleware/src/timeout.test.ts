import type { TurnContext, TurnResult } from '@sessions/core';
import { compose, isRetryable, TimeoutError } from '@sessions/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import { timeout } from './timeout.js';
import { makeTurn } from './turn.test-helper.js';

/** A handler that answers only when its signal aborts, by rejecting with the reason (as fetch does). */
function waitForAbort(seen: { signal?: AbortSignal }) {
  return (turn: TurnContext): Promise<TurnResult> =>
    new Promise((_, reject) => {
      const signal = turn.signal;
      seen.signal = signal;
      if (signal === undefined) return reject(new Error('no signal'));
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
}

describe('timeout', () => {
  afterEach(() => vi.useRealTimers());

  it("aborts the handler's signal and fails with TimeoutError", async () => {
    const seen: { signal?: AbortSignal } = {};
    const turn = makeTurn();
    const error = await compose([timeout({ ms: 20 })], waitForAbort(seen))(turn).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('timeout');
    expect((error as TimeoutError).message).toBe('Turn timed out after 20 ms');
    expect(isRetryable(error)).toBe(true);
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.signal?.reason).toBe(error);
    expect(turn.signal).toBeUndefined();
  });

  it('fails on time even when the handler ignores the signal', async () => {
    let finish: (r: TurnResult) => void = () => undefined;
    const run = compose(
      [timeout({ ms: 20 })],
      () =>
        new Promise<TurnResult>((resolve) => {
          finish = resolve;
        }),
    );
    await expect(run(makeTurn())).rejects.toBeInstanceOf(TimeoutError);
    finish({ content: 'too late' });
  });

  it('returns the result of a turn that ends in time, clears its timer and restores the signal', async () => {
    vi.useFakeTimers();
    const outer = new AbortController();
    const turn = makeTurn({ signal: outer.signal });
    let inner: AbortSignal | undefined;
    const result = await compose([timeout({ ms: 1000 })], async (t) => {
      inner = t.signal;
      return { content: 'ok' };
    })(turn);
    expect(result).toEqual({ content: 'ok' });
    expect(inner).not.toBe(outer.signal);
    expect(inner?.aborted).toBe(false);
    expect(turn.signal).toBe(outer.signal);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears its timer when the handler fails', async () => {
    vi.useFakeTimers();
    const run = compose([timeout({ ms: 1000 })], async () => {
      throw new Error('boom');
    });
    await expect(run(makeTurn())).rejects.toThrow('boom');
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes the caller's abort through to the handler", async () => {
    const outer = new AbortController();
    const seen: { signal?: AbortSignal } = {};
    const pending = compose(
      [timeout({ ms: 60_000 })],
      waitForAbort(seen),
    )(makeTurn({ signal: outer.signal }));
    outer.abort(new Error('user cancelled'));
    await expect(pending).rejects.toThrow('user cancelled');
    expect(seen.signal?.aborted).toBe(true);
  });

  it('hands an already aborted signal on, aborted', async () => {
    const outer = new AbortController();
    outer.abort(new Error('gone'));
    const seen: { signal?: AbortSignal } = {};
    const pending = compose(
      [timeout({ ms: 60_000 })],
      waitForAbort(seen),
    )(makeTurn({ signal: outer.signal }));
    expect(seen.signal?.aborted).toBe(true);
    await expect(pending).rejects.toThrow('gone');
  });

  it.each([
    ['options', 5],
    ['options', null],
    ['ms', { ms: 0 }],
    ['ms', { ms: Number.POSITIVE_INFINITY }],
    ['ms', { ms: 2 ** 31 }],
    ['ms', { ms: '100' }],
  ])('refuses a bad %s at once with InvalidInputError naming it', (option, options) => {
    expectInvalidOption(() => timeout(options as never), 'timeout', option);
  });
});
