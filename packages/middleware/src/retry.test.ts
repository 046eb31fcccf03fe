import type { TurnResult } from '@sessions/core';
import { compose, ModelError, NotFoundError, RateLimitError, TimeoutError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import { abortableSleep, retry } from './retry.js';
import { timeout } from './timeout.js';
import { makeTurn } from './turn.test-helper.js';

/** A handler that throws the given errors in turn, then answers. */
function flaky(errors: unknown[]) {
  const state = { calls: 0 };
  const handler = async (): Promise<TurnResult> => {
    const error = errors[state.calls];
    state.calls += 1;
    if (error !== undefined) throw error;
    return { content: `ok after ${state.calls}` };
  };
  return { state, handler };
}

const retryable = (): ModelError => new ModelError('503', { status: 503, retryable: true });

function recorder() {
  const delays: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    delays.push(ms);
  };
  return { delays, sleep };
}

describe('retry', () => {
  it('retries retryable errors with exponential backoff, then answers', async () => {
    const { delays, sleep } = recorder();
    const { state, handler } = flaky([retryable(), new TimeoutError('slow'), new RateLimitError('busy')]);
    const run = compose([retry({ retries: 3, minDelayMs: 100, factor: 3, jitter: false, sleep })], handler);
    await expect(run(makeTurn())).resolves.toEqual({ content: 'ok after 4' });
    expect(state.calls).toBe(4);
    expect(delays).toEqual([100, 300, 900]);
  });

  it('gives up after `retries` more attempts and throws the last error', async () => {
    const { delays, sleep } = recorder();
    const errors = [retryable(), retryable(), retryable(), retryable()];
    const { state, handler } = flaky(errors);
    const error = await compose(
      [retry({ sleep, jitter: false })],
      handler,
    )(makeTurn()).catch((e: unknown) => e);
    expect(error).toBe(errors[2]);
    expect(state.calls).toBe(3);
    expect(delays).toEqual([500, 1000]);
  });

  it.each([
    ['a ModelError not marked retryable', new ModelError('400 bad request', { status: 400 })],
    ['a NotFoundError', new NotFoundError('no such session')],
    ['a plain Error', new Error('bug')],
    ['a string', 'oops'],
  ])('does not retry %s', async (_, failure) => {
    const { delays, sleep } = recorder();
    const { state, handler } = flaky([failure]);
    await expect(compose([retry({ sleep })], handler)(makeTurn())).rejects.toBe(failure);
    expect(state.calls).toBe(1);
    expect(delays).toEqual([]);
  });

  it('caps the delay at maxDelayMs', async () => {
    const { delays, sleep } = recorder();
    const { handler } = flaky([retryable(), retryable(), retryable(), retryable()]);
    const run = compose(
      [retry({ retries: 4, minDelayMs: 400, maxDelayMs: 1000, jitter: false, sleep })],
      handler,
    );
    await run(makeTurn());
    expect(delays).toEqual([400, 800, 1000, 1000]);
  });

  it('jitters between half the delay and the delay', async () => {
    const { delays, sleep } = recorder();
    const randoms = [0, 0.5, 0.999];
    const { handler } = flaky([retryable(), retryable(), retryable()]);
    const run = compose(
      [retry({ retries: 3, minDelayMs: 1000, factor: 1, sleep, random: () => randoms.shift() ?? 0 })],
      handler,
    );
    await run(makeTurn());
    expect(delays).toEqual([500, 750, 1000]);
  });

  it("waits at least a RateLimitError's retryAfterMs, and gives up when that exceeds maxDelayMs", async () => {
    const { delays, sleep } = recorder();
    const { handler } = flaky([new RateLimitError('busy', { retryAfterMs: 2500 })]);
    await compose([retry({ sleep, jitter: false })], handler)(makeTurn());
    expect(delays).toEqual([2500]);

    const tooLong = new RateLimitError('busy', { retryAfterMs: 60_000 });
    const second = flaky([tooLong]);
    await expect(compose([retry({ sleep })], second.handler)(makeTurn())).rejects.toBe(tooLong);
    expect(second.state.calls).toBe(1);
  });

  it('never retries once the turn signal aborted', async () => {
    const { sleep } = recorder();
    const controller = new AbortController();
    controller.abort();
    const failure = retryable();
    const { state, handler } = flaky([failure]);
    await expect(compose([retry({ sleep })], handler)(makeTurn({ signal: controller.signal }))).rejects.toBe(
      failure,
    );
    expect(state.calls).toBe(1);
  });

  it('stops when the signal aborts during the wait', async () => {
    const controller = new AbortController();
    const failure = retryable();
    const { state, handler } = flaky([failure]);
    const sleep = async (): Promise<void> => controller.abort();
    await expect(compose([retry({ sleep })], handler)(makeTurn({ signal: controller.signal }))).rejects.toBe(
      failure,
    );
    expect(state.calls).toBe(1);
  });

  it('asks shouldRetry with the error and the 1-based attempt', async () => {
    const { sleep } = recorder();
    const asked: [unknown, number][] = [];
    const errors = [new Error('a'), new Error('b'), new Error('c')];
    const { state, handler } = flaky(errors);
    const shouldRetry = (error: unknown, attempt: number): boolean => {
      asked.push([error, attempt]);
      return attempt < 2;
    };
    await expect(compose([retry({ shouldRetry, sleep })], handler)(makeTurn())).rejects.toBe(errors[1]);
    expect(asked).toEqual([
      [errors[0], 1],
      [errors[1], 2],
    ]);
    expect(state.calls).toBe(2);
  });

  it('starts every attempt from the original message', async () => {
    const { sleep } = recorder();
    const seen: string[] = [];
    const { handler } = flaky([retryable()]);
    const run = compose(
      [
        retry({ sleep }),
        async (turn, next) => {
          turn.message = `${turn.message}!`;
          seen.push(turn.message);
          return next();
        },
      ],
      handler,
    );
    await run(makeTurn({ message: 'hi' }));
    expect(seen).toEqual(['hi!', 'hi!']);
  });

  it('retries an attempt that timed out, with a fresh signal', async () => {
    const { sleep } = recorder();
    const signals: AbortSignal[] = [];
    let calls = 0;
    const run = compose([retry({ sleep }), timeout({ ms: 20 })], (turn) => {
      calls += 1;
      const signal = turn.signal!;
      signals.push(signal);
      if (calls === 2) return Promise.resolve({ content: 'second time lucky' });
      return new Promise<TurnResult>((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    });
    await expect(run(makeTurn())).resolves.toEqual({ content: 'second time lucky' });
    expect(calls).toBe(2);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
  });

  it.each([
    ['options', 'twice'],
    ['retries', { retries: -1 }],
    ['retries', { retries: 1.5 }],
    ['retries', { retries: Number.POSITIVE_INFINITY }],
    ['minDelayMs', { minDelayMs: -1 }],
    ['minDelayMs', { minDelayMs: Number.NaN }],
    ['maxDelayMs', { minDelayMs: 100, maxDelayMs: 10 }],
    ['maxDelayMs', { maxDelayMs: Number.POSITIVE_INFINITY }],
    ['maxDelayMs', { maxDelayMs: 2 ** 31 }],
    ['factor', { factor: 0.5 }],
    ['factor', { factor: Number.POSITIVE_INFINITY }],
    ['jitter', { jitter: 'yes' }],
    ['shouldRetry', { shouldRetry: true }],
    ['sleep', { sleep: 5 }],
    ['random', { random: 0.5 }],
  ])('refuses a bad %s at once with InvalidInputError naming it', (option, options) => {
    expectInvalidOption(() => retry(options as never), 'retry', option);
  });
});

describe('abortableSleep', () => {
  it('resolves at once when the signal is or becomes aborted', async () => {
    const aborted = new AbortController();
    aborted.abort();
    await abortableSleep(60_000, aborted.signal);
    const later = new AbortController();
    const pending = abortableSleep(60_000, later.signal);
    later.abort();
    await pending;
  });

  it('resolves after the delay', async () => {
    await abortableSleep(1);
  });
});
