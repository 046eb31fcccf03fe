import type { TurnContext } from '@sessions/core';
import { compose } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { afterResponse } from './after-response.js';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import { makeTurn } from './turn.test-helper.js';

const usage = { inputTokens: 1, outputTokens: 2, totalTokens: 3 };
const echo = async (turn: TurnContext) => ({ content: `  you said ${turn.message}  `, usage });

describe('afterResponse', () => {
  it('replaces the response with what the handler returns, keeping usage', async () => {
    const run = compose([afterResponse((_message, response) => response.trim())], echo);
    await expect(run(makeTurn('hi'))).resolves.toEqual({ content: 'you said hi', usage });
  });

  it('keeps the response when the handler returns nothing, sync or async', async () => {
    const seen: [string, string, string][] = [];
    const run = compose(
      [
        afterResponse((message, response, turn) => {
          seen.push([message, response, turn.sessionId]);
        }),
        afterResponse(async () => undefined),
      ],
      echo,
    );
    await expect(run(makeTurn('hi'))).resolves.toEqual({ content: '  you said hi  ', usage });
    expect(seen).toEqual([['hi', '  you said hi  ', 's1']]);
  });

  it('awaits an async handler and can return an empty string', async () => {
    const run = compose([afterResponse(async () => '')], echo);
    await expect(run(makeTurn('hi'))).resolves.toEqual({ content: '', usage });
  });

  it('sees the message as sent to the model', async () => {
    let seen = '';
    const run = compose(
      [
        afterResponse((message) => {
          seen = message;
        }),
        async (turn, next) => {
          turn.message = `[context] ${turn.message}`;
          return next();
        },
      ],
      echo,
    );
    await run(makeTurn('hi'));
    expect(seen).toBe('[context] hi');
  });

  it('propagates a handler error', async () => {
    const run = compose(
      [
        afterResponse(() => {
          throw new Error('hook failed');
        }),
      ],
      echo,
    );
    await expect(run(makeTurn('hi'))).rejects.toThrow('hook failed');
  });

  it.each([
    ['a number', 5],
    ['nothing', undefined],
    ['a string', 'trim'],
  ])('refuses %s for a handler at once with InvalidInputError', (_label, handler) => {
    expectInvalidOption(() => afterResponse(handler as never), 'afterResponse', 'handler');
  });
});
