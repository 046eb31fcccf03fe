import { describe, expect, it } from 'vitest';
import type { ChatModel, ChatRequest } from './chat-model.js';
import type { Middleware } from './middleware.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';

/** A signal source that counts how often its signal was asked for (not counting `ifAborted` checks). */
function lazySource(controller = new AbortController()): {
  source: (ifAborted?: boolean) => AbortSignal | undefined;
  made: () => number;
} {
  let made = 0;
  return {
    source: (ifAborted) => {
      if (ifAborted) return controller.signal.aborted ? controller.signal : undefined;
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
  it('does not store a turn aborted before anything read the signal, even when the model answered', async () => {
    const controller = new AbortController();
    const asked: (boolean | undefined)[] = [];
    const model: ChatModel = {
      generate: async () => {
        controller.abort(new Error('client gone'));
        return { content: 'answered anyway' };
      },
      stream: blindModel.stream,
    };
    const session = new Session({ model });
    const signal = (ifAborted?: boolean): AbortSignal | undefined => {
      asked.push(ifAborted);
      return ifAborted && !controller.signal.aborted ? undefined : controller.signal;
    };
    await expect(session.Agent({ name: 'A' }).chat('hi', { signal })).rejects.toThrow('client gone');
    expect(asked).toEqual([true]);
    expect(await session.messages()).toEqual([]);
  });

  it('is asked only whether it aborted when nothing reads it, and the turn is stored', async () => {
    const asked: (boolean | undefined)[] = [];
    const session = new Session({ model: blindModel });
    const signal = (ifAborted?: boolean): AbortSignal | undefined => {
      asked.push(ifAborted);
      return ifAborted ? undefined : new AbortController().signal;
    };
    expect(await session.Agent({ name: 'A' }).chat('hi', { signal })).toBe('done');
    expect(asked).toEqual([true]);
    expect((await session.messages()).map((m) => m.content)).toEqual(['hi', 'done']);
  });

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
    // To a test or a log the request looks like any other: its messages and its signal, nothing of the turn.
    expect(model.requests[0]).toEqual({ messages: model.requests[0]!.messages, signal: controller.signal });
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

  it('reaches a model behind a wrapper that spreads the request, or sets its own signal', async () => {
    const controller = new AbortController();
    const inner = new ScriptedModel().reply('one', 'two');
    const spreading: ChatModel = {
      generate: (request) => inner.generate({ ...request, messages: request.messages.slice(-1) }),
      stream: (request) => inner.stream(request),
    };
    await new Session({ model: spreading })
      .Agent({ name: 'A' })
      .chat('hi', { signal: () => controller.signal });
    expect(inner.requests[0]?.signal).toBe(controller.signal);
    const mine = new AbortController();
    const setting: ChatModel = {
      generate: (request) => {
        request.signal = mine.signal;
        return inner.generate(request);
      },
      stream: (request) => inner.stream(request),
    };
    await new Session({ model: setting })
      .Agent({ name: 'A' })
      .chat('hi', { signal: () => controller.signal });
    expect(inner.requests[1]?.signal).toBe(mine.signal);
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
