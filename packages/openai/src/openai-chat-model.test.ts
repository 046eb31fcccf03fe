import {
  type ChatEvent,
  type ChatRequest,
  type Message,
  ModelError,
  NotConfiguredError,
  newId,
  SessionsError,
  TimeoutError,
} from '@sessions/core';
import { type FakeOpenAI, startFakeOpenAI } from '@sessions/testing';
import OpenAI, { APIConnectionError, APIError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OpenAIChatModel } from './openai-chat-model.js';

let fake: FakeOpenAI;
let model: OpenAIChatModel;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  model = new OpenAIChatModel({ apiKey: fake.apiKey, baseURL: fake.url, model: 'gpt-test', maxRetries: 0 });
});
afterEach(() => {
  fake.reset();
  vi.unstubAllEnvs();
});
afterAll(() => fake.close());

function message(role: Message['role'], content: string, extra: Partial<Message> = {}): Message {
  return { id: newId('msg'), role, content, createdAt: new Date().toISOString(), ...extra };
}

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [message('user', content)],
  ...extra,
});

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const all: ChatEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('OpenAIChatModel.generate', () => {
  it('answers with content, usage and finish reason over real HTTP', async () => {
    const response = await model.generate(ask('hello world'));
    expect(response).toEqual({
      content: 'echo: hello world',
      usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 },
      finishReason: 'stop',
    });
    const [sent] = fake.chatRequests();
    expect(sent?.body.model).toBe('gpt-test');
    expect(sent?.body.stream).toBe(false);
    expect(sent?.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
  });

  it('sends history, tool calls, tool results, tools, temperature and max tokens', async () => {
    await model.generate({
      messages: [
        message('system', 'You are helpful.'),
        message('user', 'Weather in Paris?', { name: 'ada lovelace' }),
        message('assistant', '', {
          name: 'Weather Bot!',
          toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
        }),
        message('tool', '{"temp":21}', { toolCallId: 'call_1', name: 'get_weather' }),
        message('assistant', 'It is 21°C.', { name: 'Ω' }),
      ],
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      ],
      temperature: 0.2,
      maxTokens: 100,
    });
    const body = fake.chatRequests()[0]?.body;
    expect(body?.messages).toEqual([
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Weather in Paris?', name: 'ada_lovelace' },
      {
        role: 'assistant',
        content: null,
        name: 'Weather_Bot_',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', content: '{"temp":21}', tool_call_id: 'call_1' },
      { role: 'assistant', content: 'It is 21°C.' },
    ]);
    expect(body?.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ]);
    expect(body?.temperature).toBe(0.2);
    expect(body?.max_tokens).toBe(100);
    expect(body).not.toHaveProperty('max_completion_tokens');
  });

  it('can send max_completion_tokens instead', async () => {
    const reasoning = new OpenAIChatModel({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: 'o-test',
      maxTokensParam: 'max_completion_tokens',
    });
    await reasoning.generate(ask('x', { maxTokens: 7 }));
    const body = fake.chatRequests()[0]?.body;
    expect(body?.max_completion_tokens).toBe(7);
    expect(body).not.toHaveProperty('max_tokens');
    expect(body).not.toHaveProperty('tools');
  });

  it('returns tool calls', async () => {
    fake.reply({
      toolCalls: [
        { id: 'call_a', name: 'search', arguments: { q: 'cats' } },
        { id: 'call_b', name: 'lookup', arguments: '{"id":7}' },
      ],
      usage: { prompt_tokens: 10, completion_tokens: 4 },
    });
    const response = await model.generate(ask('find cats'));
    expect(response).toEqual({
      content: '',
      toolCalls: [
        { id: 'call_a', name: 'search', arguments: '{"q":"cats"}' },
        { id: 'call_b', name: 'lookup', arguments: '{"id":7}' },
      ],
      usage: { inputTokens: 10, outputTokens: 4, totalTokens: 14 },
      finishReason: 'tool_calls',
    });
  });

  it('maps finish reasons', async () => {
    fake.reply({ content: 'cut', finishReason: 'length' }, { content: '', finishReason: 'content_filter' });
    expect((await model.generate(ask('a'))).finishReason).toBe('length');
    expect((await model.generate(ask('b'))).finishReason).toBe('content_filter');
  });

  it('aborts a pending request through the signal', async () => {
    fake.reply({ content: 'late', delayMs: 60_000 });
    const controller = new AbortController();
    const pending = failure(model.generate(ask('x', { signal: controller.signal })));
    await vi.waitFor(() => expect(fake.chatRequests()).toHaveLength(1));
    const reason = new Error('user left');
    controller.abort(reason);
    const error = (await pending) as Error;
    expect(error.name).toBe('AbortError');
    expect(error.cause).toBe(reason);
    expect(SessionsError.is(error)).toBe(false);
  });

  it('does not send a request when the signal is already aborted', async () => {
    const error = (await failure(model.generate(ask('x', { signal: AbortSignal.abort() })))) as Error;
    expect(error.name).toBe('AbortError');
    expect(fake.requests).toHaveLength(0);
  });

  it('maps a 500 to a retryable ModelError with its status and cause', async () => {
    fake.reply({ error: { status: 500, message: 'The server had an error' } });
    const error = await failure(model.generate(ask('x')));
    expect(error).toBeInstanceOf(ModelError);
    const modelError = error as ModelError;
    expect(modelError.code).toBe('model_error');
    expect(modelError.status).toBe(500);
    expect(modelError.retryable).toBe(true);
    expect(modelError.message).toContain('The server had an error');
    expect(modelError.cause).toBeInstanceOf(APIError);
  });

  it('maps 429, 408 and 409 to retryable, 400, 401 and 404 to not retryable', async () => {
    const cases: [number, boolean][] = [
      [429, true],
      [408, true],
      [409, true],
      [503, true],
      [400, false],
      [401, false],
      [404, false],
    ];
    for (const [status] of cases) fake.reply({ error: { status } });
    for (const [status, retryable] of cases) {
      const error = (await failure(model.generate(ask('x')))) as ModelError;
      expect(SessionsError.is(error) && error.code).toBe('model_error');
      expect({ status: error.status, retryable: error.retryable }).toEqual({ status, retryable });
    }
  });

  it('names the key when the server refuses it', async () => {
    const wrong = new OpenAIChatModel({ apiKey: 'nope', baseURL: fake.url, model: 'm', maxRetries: 0 });
    const error = (await failure(wrong.generate(ask('x')))) as ModelError;
    expect(error.status).toBe(401);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('OPENAI_API_KEY');
  });

  it('maps the timeout option to TimeoutError', async () => {
    fake.reply({ content: 'slow', delayMs: 5_000 });
    const impatient = new OpenAIChatModel({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: 'm',
      timeout: 100,
      maxRetries: 0,
    });
    const error = await failure(impatient.generate(ask('x')));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('timeout');
    expect((error as TimeoutError).message).toContain('100 ms');
  });

  it('maps a dropped connection to a retryable ModelError without status', async () => {
    fake.reply({ hangUp: true });
    const error = (await failure(model.generate(ask('x')))) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect(error.status).toBeUndefined();
    expect(error.retryable).toBe(true);
    expect(error.cause).toBeInstanceOf(APIConnectionError);
  });

  it('keeps the SDK default of 2 retries and lets them recover a 500', async () => {
    const retrying = new OpenAIChatModel({ apiKey: fake.apiKey, baseURL: fake.url, model: 'm' });
    expect(retrying.client.maxRetries).toBe(2);
    fake.reply(
      { error: { status: 500, retryAfterMs: 1 } },
      { error: { status: 502, retryAfterMs: 1 } },
      'third',
    );
    expect((await retrying.generate(ask('x'))).content).toBe('third');
    expect(fake.chatRequests()).toHaveLength(3);
  });

  it('sends organization and default headers, and uses a given client as is', async () => {
    const configured = new OpenAIChatModel({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: 'm',
      organization: 'org-test',
      defaultHeaders: { 'x-gateway': 'yes' },
    });
    await configured.generate(ask('x'));
    expect(fake.requests[0]?.headers['openai-organization']).toBe('org-test');
    expect(fake.requests[0]?.headers['x-gateway']).toBe('yes');

    const client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, defaultHeaders: { 'x-own': '1' } });
    const given = new OpenAIChatModel({ model: 'm', client });
    expect(given.client).toBe(client);
    await given.generate(ask('y'));
    expect(fake.requests[1]?.headers['x-own']).toBe('1');
  });

  it('reads OPENAI_API_KEY and OPENAI_BASE_URL like the SDK', async () => {
    vi.stubEnv('OPENAI_API_KEY', fake.apiKey);
    vi.stubEnv('OPENAI_BASE_URL', fake.url);
    const fromEnv = new OpenAIChatModel({ model: 'env-model' });
    expect((await fromEnv.generate(ask('from env'))).content).toBe('echo: from env');
  });

  it('throws NotConfiguredError without any API key', () => {
    vi.stubEnv('OPENAI_API_KEY', undefined);
    expect(() => new OpenAIChatModel({ model: 'm', baseURL: fake.url })).toThrow(NotConfiguredError);
  });

  it('rejects a missing model name', () => {
    expect(() => new OpenAIChatModel({ model: ' ', apiKey: 'k' })).toThrow(/model name/);
  });
});

describe('OpenAIChatModel.stream', () => {
  it('yields deltas, then done with the whole content and usage', async () => {
    fake.reply({ content: 'Hello there, friend', usage: { prompt_tokens: 3, completion_tokens: 4 } });
    const events = await collect(model.stream(ask('hi')));
    expect(events).toEqual([
      { type: 'delta', delta: 'Hello ' },
      { type: 'delta', delta: 'there, ' },
      { type: 'delta', delta: 'friend' },
      {
        type: 'done',
        response: {
          content: 'Hello there, friend',
          usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
          finishReason: 'stop',
        },
      },
    ]);
    const body = fake.chatRequests()[0]?.body;
    expect(body?.stream).toBe(true);
    expect(body?.stream_options).toEqual({ include_usage: true });
  });

  it('assembles streamed tool calls', async () => {
    const args = { query: 'a rather long query that spans many chunks', limit: 3 };
    fake.reply({
      content: 'Let me look.',
      toolCalls: [
        { id: 'call_1', name: 'search', arguments: args },
        { id: 'call_2', name: 'clock', arguments: {} },
      ],
    });
    const events = await collect(model.stream(ask('look it up')));
    const done = events.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') return;
    expect(done.response.content).toBe('Let me look.');
    expect(done.response.finishReason).toBe('tool_calls');
    expect(done.response.toolCalls).toEqual([
      { id: 'call_1', name: 'search', arguments: JSON.stringify(args) },
      { id: 'call_2', name: 'clock', arguments: '{}' },
    ]);
    expect(
      events.filter((event) => event.type === 'delta').map((event) => event.type === 'delta' && event.delta),
    ).toEqual(['Let ', 'me ', 'look.']);
  });

  it('aborts mid-stream through the signal', async () => {
    fake.reply({ content: 'one two three four', chunkDelayMs: 60_000 });
    const controller = new AbortController();
    const deltas: string[] = [];
    const error = (await failure(
      (async () => {
        for await (const event of model.stream(ask('x', { signal: controller.signal }))) {
          if (event.type === 'delta') {
            deltas.push(event.delta);
            controller.abort();
          }
        }
      })(),
    )) as Error;
    expect(error.name).toBe('AbortError');
    expect(deltas).toEqual(['one ']);
  });

  it('aborts while waiting for the first byte', async () => {
    fake.reply({ content: 'late', delayMs: 60_000 });
    const controller = new AbortController();
    const pending = failure(collect(model.stream(ask('x', { signal: controller.signal }))));
    await vi.waitFor(() => expect(fake.chatRequests()).toHaveLength(1));
    controller.abort();
    expect(((await pending) as Error).name).toBe('AbortError');
  });

  it('cancels the request when the consumer stops early', async () => {
    fake.reply({ content: 'a b c d e f', chunkDelayMs: 20 });
    const seen: string[] = [];
    for await (const event of model.stream(ask('x'))) {
      if (event.type === 'delta') seen.push(event.delta);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['a ', 'b ']);
    expect((await model.generate(ask('still works'))).content).toBe('echo: still works');
  });

  it('maps an error answer before the stream to ModelError', async () => {
    fake.reply({ error: { status: 400, message: 'Bad tools' } });
    const error = (await failure(collect(model.stream(ask('x'))))) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect(error.status).toBe(400);
    expect(error.retryable).toBe(false);
  });

  it('maps a stream cut short to a retryable ModelError', async () => {
    fake.reply({ content: 'one two three four five', hangUpAfterChunks: 3 });
    const deltas: string[] = [];
    const error = (await failure(
      (async () => {
        for await (const event of model.stream(ask('x')))
          if (event.type === 'delta') deltas.push(event.delta);
      })(),
    )) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect(error.retryable).toBe(true);
    expect(deltas).toEqual(['one ', 'two ']);
  });

  it('maps the timeout option to TimeoutError', async () => {
    fake.reply({ content: 'slow', delayMs: 5_000 });
    const impatient = new OpenAIChatModel({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: 'm',
      timeout: 100,
      maxRetries: 0,
    });
    expect(await failure(collect(impatient.stream(ask('x'))))).toBeInstanceOf(TimeoutError);
  });
});
