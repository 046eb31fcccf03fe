import { describe, expect, it } from 'vitest';
import { compose, type Middleware, type TurnContext } from './middleware.js';

const turn = (): TurnContext => ({
  sessionId: 's',
  userId: 'u',
  agentName: 'A',
  message: 'hi',
  streaming: false,
  metadata: {},
});

describe('compose', () => {
  it('lets a middleware answer without calling next', async () => {
    const cached: Middleware = async () => ({ content: 'cached' });
    let called = false;
    const run = compose([cached], async () => {
      called = true;
      return { content: 'model' };
    });
    expect(await run(turn())).toEqual({ content: 'cached' });
    expect(called).toBe(false);
  });

  it('calls the handler directly when there is no middleware', async () => {
    const run = compose([], async (t) => ({ content: t.message }));
    expect(await run(turn())).toEqual({ content: 'hi' });
  });
});
