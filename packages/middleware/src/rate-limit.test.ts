import type { TurnContext } from '@sessions/core';
import { compose, RateLimitError, SessionsError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import { rateLimit } from './rate-limit.js';
import { makeTurn } from './turn.test-helper.js';

function setup(options: { limit: number; windowMs: number; key?: (turn: TurnContext) => string }) {
  const clock = { time: 1_000_000 };
  let calls = 0;
  const run = compose([rateLimit({ ...options, now: () => clock.time })], async () => {
    calls += 1;
    return { content: 'ok' };
  });
  return { clock, run, calls: () => calls };
}

async function refusal(promise: Promise<unknown>): Promise<RateLimitError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RateLimitError);
  return error as RateLimitError;
}

describe('rateLimit', () => {
  it('allows limit turns per window, then refuses with retryAfterMs until the oldest leaves the window', async () => {
    const { clock, run, calls } = setup({ limit: 2, windowMs: 1000 });
    await run(makeTurn());
    clock.time += 300;
    await run(makeTurn());
    clock.time += 200;

    const error = await refusal(run(makeTurn()));
    expect(SessionsError.is(error)).toBe(true);
    expect(error.code).toBe('rate_limited');
    expect(error.retryAfterMs).toBe(500);
    expect(error.message).toContain('"u1"');
    expect(calls()).toBe(2);

    clock.time += 499;
    expect((await refusal(run(makeTurn()))).retryAfterMs).toBe(1);
    clock.time += 1;
    await expect(run(makeTurn())).resolves.toEqual({ content: 'ok' });
    expect(calls()).toBe(3);
    // the window now holds the turns at +300 and +1000: the next frees at +1300
    expect((await refusal(run(makeTurn()))).retryAfterMs).toBe(300);
  });

  it('does not count refused turns', async () => {
    const { clock, run } = setup({ limit: 1, windowMs: 100 });
    await run(makeTurn());
    for (let i = 0; i < 5; i++) {
      clock.time += 10;
      await refusal(run(makeTurn()));
    }
    clock.time += 50;
    await expect(run(makeTurn())).resolves.toEqual({ content: 'ok' });
  });

  it('counts each user apart, falling back to the session id when there is no user', async () => {
    const { run } = setup({ limit: 1, windowMs: 1000 });
    await run(makeTurn({ userId: 'alice' }));
    await run(makeTurn({ userId: 'bob' }));
    await refusal(run(makeTurn({ userId: 'alice', sessionId: 'other' })));
    await run(makeTurn({ userId: '', sessionId: 's9' }));
    const error = await refusal(run(makeTurn({ userId: '', sessionId: 's9' })));
    expect(error.message).toContain('"s9"');
  });

  it('takes a custom key', async () => {
    const { run } = setup({ limit: 1, windowMs: 1000, key: (turn) => turn.agentName });
    await run(makeTurn({ userId: 'alice', agentName: 'A' }));
    await run(makeTurn({ userId: 'alice', agentName: 'B' }));
    await refusal(run(makeTurn({ userId: 'bob', agentName: 'A' })));
  });

  it('counts turns that fail', async () => {
    const clock = { time: 0 };
    const run = compose([rateLimit({ limit: 1, windowMs: 1000, now: () => clock.time })], async () => {
      throw new Error('model down');
    });
    await expect(run(makeTurn())).rejects.toThrow('model down');
    await refusal(run(makeTurn()));
  });

  it('forgets keys whose turns all left the window', async () => {
    const { clock, run } = setup({ limit: 1, windowMs: 100 });
    for (let i = 0; i < 50; i++) await run(makeTurn({ userId: `user${i}` }));
    clock.time += 1000;
    await run(makeTurn({ userId: 'late' }));
    await run(makeTurn({ userId: 'user0' }));
  });

  it.each([
    ['options', undefined],
    ['limit', { limit: 0, windowMs: 1000 }],
    ['limit', { limit: 1.5, windowMs: 1000 }],
    ['limit', { limit: '5', windowMs: 1000 }],
    ['limit', { windowMs: 1000 }],
    ['windowMs', { limit: 1, windowMs: 0 }],
    ['windowMs', { limit: 1, windowMs: Number.NaN }],
    ['windowMs', { limit: 1, windowMs: Number.POSITIVE_INFINITY }],
    ['key', { limit: 1, windowMs: 1000, key: 'userId' }],
    ['now', { limit: 1, windowMs: 1000, now: 5 }],
  ])('refuses a bad %s at once with InvalidInputError naming it', (option, options) => {
    expectInvalidOption(() => rateLimit(options as never), 'rateLimit', option);
  });
});
