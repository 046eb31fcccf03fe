import { describe, expect, it } from 'vitest';
import type { ChatModel, ChatRequest } from './chat-model.js';
import type { Middleware } from './middleware.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';

/** A signal source that counts how often its signal was made. */
function lazySource(controller = new AbortController()): { source: () => AbortSignal; made: () => number } {
  let made = 0;
  return {
    source: () => {
      made += 1;
      return controller.signal;
    },
    made: () => made,
  };
}

/** A model that answers without looking at the request's signal. */
const blindModel: ChatModel = {
  generate: async () => ({ content: 'done' }),
  async *stream() {
    yield { type: 'done', response: { content: 'done' } };
  },
};

describe('a signal given as a function (ChatOptions.signal)', () => {
  it('is not made when nothing reads it, and the turn is stored', async () => {
    const { source, made } = lazySource();
    const session = new Session({ model: blindModel });
    expect(await session.Agent({ name: 'A' }).chat('hi', { signal: source })).toBe('done');
    expect(made()).toBe(0);
    expect((await session.messages()).map((m) => m.content)).toEqual(['hi', 'done']);
  });

  it('is made once when the model reads it, and is the model request signal', async () => {
    const controller = new AbortController();
    const { source, made } = lazySource(controller);
    const model = new ScriptedModel().reply('ok');
    await new Session({ model }).Agent({ name: 'A' }).chat('hi', { signal: source });
    expect(model.requests[0]?.signal).toBe(controller.signal);
    expect(made()).toBe(1);
  });

  it('cancels the turn when aborted before the model reads it: nothing is stored', async () => {
    const controller = new AbortController();
    controller.abort(new Error('client gone'));
    const session = new Session({ model: new ScriptedModel().reply('never') });
    const chat = session.Agent({ name: 'A' }).chat('hi', { signal: () => controller.signal });
    await expect(chat).rejects.toThrow('client gone');
    expect(await session.messages()).toEqual([]);
  });

  it('stores nothing when aborted after the model read it, even if the model answered', async () => {
    const controller = new AbortController();
    const model: ChatModel = {
      generate: async (request: ChatRequest) => {
        expect(request.signal?.aborted).toBe(false);
        controller.abort(new Error('deadline'));
        return { content: 'too late' };
      },
      stream: blindModel.stream,
    };
    const session = new Session({ model });
    await expect(
      session.Agent({ name: 'A' }).chat('hi', { signal: () => controller.signal }),
    ).rejects.toThrow('deadline');
    expect(await session.messages()).toEqual([]);
  });

  it('is turn.signal for middleware, which may replace it', async () => {
    const outer = new AbortController();
    const inner = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    const swap: Middleware = (turn, next) => {
      seen.push(turn.signal);
      turn.signal = inner.signal;
      return next();
    };
    const model = new ScriptedModel().reply('ok');
    const session = new Session({ model, middleware: [swap] });
    await session.Agent({ name: 'A' }).chat('hi', { signal: () => outer.signal });
    expect(seen).toEqual([outer.signal]);
    expect(model.requests[0]?.signal).toBe(inner.signal);
  });

  it('is made for a stream', async () => {
    const { source, made } = lazySource();
    const session = new Session({ model: new ScriptedModel().reply('a b') });
    const deltas: string[] = [];
    for await (const chunk of session.Agent({ name: 'A' }).stream('go', { signal: source }))
      deltas.push(chunk.delta);
    expect(deltas.join('')).toBe('a b');
    expect(made()).toBe(1);
  });
});
