import OpenAI, {
  APIConnectionError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from './fake-openai.js';

let fake: FakeOpenAI;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0 });
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const user = (content: string): OpenAI.ChatCompletionMessageParam => ({ role: 'user', content });

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] ?? 0) * (b[i] ?? 0);
  return dot; // both are unit vectors
}

/** Watches timers of `ms` milliseconds: which were set, and which of those were cleared. */
function watchTimers(ms: number): { set: unknown[]; cleared: unknown[]; restore(): void } {
  const set: unknown[] = [];
  const cleared: unknown[] = [];
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const setSpy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    fn: () => void,
    delay?: number,
    ...args: unknown[]
  ) => {
    const handle: unknown = Reflect.apply(realSet, globalThis, [fn, delay, ...args]);
    if (delay === ms) set.push(handle);
    return handle;
  }) as typeof setTimeout);
  const clearSpy = vi.spyOn(globalThis, 'clearTimeout').mockImplementation((handle) => {
    if (set.includes(handle)) cleared.push(handle);
    realClear(handle);
  });
  return {
    set,
    cleared,
    restore: () => {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    },
  };
}

describe('startFakeOpenAI', () => {
  it('listens on 127.0.0.1 with a /v1 base URL and the test key', () => {
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(fake.apiKey).toBe('test-key');
  });

  it('echoes the last user message by default, with usage, and records the request first', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'system', content: 'be brief' }, user('first'), user('hello there')],
    });
    const choice = completion.choices[0]!;
    expect(choice.message.content).toBe('echo: hello there');
    expect(choice.message.role).toBe('assistant');
    expect(choice.finish_reason).toBe('stop');
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-test');
    expect(completion.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });

    expect(fake.requests).toHaveLength(1);
    const [recorded] = fake.chatRequests();
    expect(recorded?.method).toBe('POST');
    expect(recorded?.path).toBe('/v1/chat/completions');
    expect(recorded?.headers.authorization).toBe('Bearer test-key');
    expect(recorded?.headers['content-type']).toContain('application/json');
    expect(recorded?.body.model).toBe('gpt-test');
    expect(recorded?.body.messages.map((m) => m.content)).toEqual(['be brief', 'first', 'hello there']);
  });

  it('answers queued replies first in, first out, then falls back to the echo', async () => {
    fake.reply('one', { content: 'two', usage: { prompt_tokens: 7, completion_tokens: 11 } });
    const ask = () => client.chat.completions.create({ model: 'm', messages: [user('q')] });
    const first = await ask();
    const second = await ask();
    const third = await ask();
    expect(first.choices[0]?.message.content).toBe('one');
    expect(second.choices[0]?.message.content).toBe('two');
    expect(second.usage).toEqual({ prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 });
    expect(third.choices[0]?.message.content).toBe('echo: q');
    expect(fake.chatRequests()).toHaveLength(3);
  });

  it('uses the responder while the queue is empty, and the queue before it', async () => {
    const seen: string[] = [];
    fake.setResponder(async (body) => {
      seen.push(body.model);
      return { content: `${body.messages.length} messages`, finishReason: 'length' };
    });
    fake.reply('queued');
    const ask = () => client.chat.completions.create({ model: 'resp', messages: [user('a'), user('b')] });
    expect((await ask()).choices[0]?.message.content).toBe('queued');
    const answered = await ask();
    expect(answered.choices[0]?.message.content).toBe('2 messages');
    expect(answered.choices[0]?.finish_reason).toBe('length');
    expect(seen).toEqual(['resp']);
    fake.setResponder(undefined);
    expect((await ask()).choices[0]?.message.content).toBe('echo: b');
  });

  it('answers 500 when the responder throws', async () => {
    fake.setResponder(() => {
      throw new Error('boom');
    });
    const error = await client.chat.completions.create({ model: 'm', messages: [user('x')] }).catch((e) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error.status).toBe(500);
    expect(error.message).toContain('boom');
  });

  it('streams content as SSE chunks, with usage in the last chunk when asked', async () => {
    fake.reply({ content: 'Hello big world' });
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [user('hi')],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    const finishes: (string | null)[] = [];
    const usages: unknown[] = [];
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice) finishes.push(choice.finish_reason);
      if (chunk.usage) usages.push(chunk.usage);
    }
    expect(deltas).toEqual(['Hello ', 'big ', 'world']);
    expect(finishes.at(-1)).toBe('stop');
    expect(usages).toEqual([{ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 }]);
  });

  it('streams the given chunks and no usage unless asked', async () => {
    fake.reply({ content: 'abcdef', chunks: ['ab', 'cd', 'ef'] });
    const stream = await client.chat.completions.create({ model: 'm', messages: [user('hi')], stream: true });
    const deltas: string[] = [];
    let usage: unknown;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) deltas.push(chunk.choices[0].delta.content);
      usage ??= chunk.usage;
    }
    expect(deltas).toEqual(['ab', 'cd', 'ef']);
    expect(usage).toBeUndefined();
  });

  it('writes raw SSE ending with data: [DONE]', async () => {
    fake.reply('Hi');
    const response = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [user('x')], stream: true }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    const events = text.split('\n\n').filter((event) => event !== '');
    expect(events.every((event) => event.startsWith('data: '))).toBe(true);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events[0]!.slice(6)).choices[0].delta.role).toBe('assistant');
  });

  it('answers tool calls, serialising object arguments', async () => {
    fake.reply({
      toolCalls: [
        { id: 'call_a', name: 'get_weather', arguments: { city: 'Paris' } },
        { name: 'get_time', arguments: '{"tz":"UTC"}' },
      ],
    });
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [user('weather?')],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls ?? [];
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({
      id: 'call_a',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
    expect(calls[1]?.id).toMatch(/^call_\d+$/);
    expect(calls[1]?.type === 'function' && calls[1].function).toEqual({
      name: 'get_time',
      arguments: '{"tz":"UTC"}',
    });
    expect(fake.chatRequests()[0]?.body.tools?.[0]?.function.name).toBe('get_weather');
  });

  it('streams tool call deltas that the SDK assembles', async () => {
    const args = { query: 'a fairly long search query', limit: 5 };
    fake.reply({ content: 'Looking.', toolCalls: [{ id: 'call_s', name: 'search', arguments: args }] });
    const stream = client.chat.completions.stream({ model: 'm', messages: [user('find')] });
    let argumentDeltas = 0;
    stream.on('tool_calls.function.arguments.delta', () => {
      argumentDeltas += 1;
    });
    const final = await stream.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.content).toBe('Looking.');
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    const call = message.tool_calls?.[0];
    expect(call?.id).toBe('call_s');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual(args);
    expect(argumentDeltas).toBeGreaterThan(1);
  });

  it('answers OpenAI-shaped errors with the given status', async () => {
    fake.reply(
      { error: { status: 429, message: 'Slow down', code: 'rate_limit_exceeded' } },
      { error: { status: 400, message: 'Bad thing', type: 'invalid_request_error' } },
    );
    const ask = () => client.chat.completions.create({ model: 'm', messages: [user('x')] }).catch((e) => e);
    const limited = await ask();
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.status).toBe(429);
    expect(limited.code).toBe('rate_limit_exceeded');
    expect(limited.message).toContain('Slow down');
    const bad = await ask();
    expect(bad).toBeInstanceOf(BadRequestError);
    expect(bad.type).toBe('invalid_request_error');
  });

  it('lets the SDK retry a 500 quickly with retryAfterMs', async () => {
    fake.reply({ error: { status: 500, retryAfterMs: 1 } }, 'recovered');
    const retrying = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 1 });
    const completion = await retrying.chat.completions.create({ model: 'm', messages: [user('x')] });
    expect(completion.choices[0]?.message.content).toBe('recovered');
    expect(fake.chatRequests()).toHaveLength(2);
  });

  it('rejects malformed chat requests like OpenAI', async () => {
    const error = await client.chat.completions
      .create({ model: 'm', messages: [] as OpenAI.ChatCompletionMessageParam[] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toContain('messages');
    const raw = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { message: string } }).error.message).toContain('parse');
    expect(fake.requests.at(-1)?.body).toBe('{not json');
  });

  it.each(['/chat/completions', '/embeddings'])(
    'answers 400 on %s for a body that is no object or names no model',
    async (route) => {
      const post = async (body: unknown): Promise<{ status: number; message: string }> => {
        const res = await fetch(`${fake.url}${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const answer = (await res.json()) as { error: { message: string; type: string } };
        expect(answer.error.type).toBe('invalid_request_error');
        return { status: res.status, message: answer.error.message };
      };
      expect(await post([1, 2])).toEqual({
        status: 400,
        message: 'The body of your request must be a JSON object.',
      });
      expect(await post({ model: '', messages: [user('hi')], input: 'hi' })).toEqual({
        status: 400,
        message: 'You must provide a model parameter.',
      });
    },
  );

  it('answers 401 with an OpenAI error for a wrong key, and records the request', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong-key-1234', baseURL: fake.url, maxRetries: 0 });
    const error = await wrong.chat.completions.create({ model: 'm', messages: [user('x')] }).catch((e) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.code).toBe('invalid_api_key');
    expect(error.message).not.toContain('sk-wrong-key-1234');
    expect(fake.requests).toHaveLength(1);
    const embedError = await wrong.embeddings.create({ model: 'e', input: 'x' }).catch((e) => e);
    expect(embedError).toBeInstanceOf(AuthenticationError);
  });

  it('answers 404 for unknown paths and lists its model', async () => {
    const error = await client.post('/nope', { body: {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error?.message).toContain('/v1/nope');
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(['fake-model']);
  });

  it('destroys the socket on hangUp, so the client sees a connection error', async () => {
    fake.reply({ hangUp: true });
    const error = await client.chat.completions.create({ model: 'm', messages: [user('x')] }).catch((e) => e);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(fake.chatRequests()).toHaveLength(1);
  });

  it('breaks a stream after hangUpAfterChunks', async () => {
    fake.reply({ content: 'one two three four five', hangUpAfterChunks: 3 });
    const stream = await client.chat.completions.create({ model: 'm', messages: [user('x')], stream: true });
    const deltas: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(deltas.join('')).toBe('one two ');
  });

  it('cuts a delayed answer short when the client aborts, leaving no timer', async () => {
    const timers = watchTimers(60_000);
    onTestFinished(() => timers.restore());
    fake.reply({ content: 'too late', delayMs: 60_000 }, 'next');
    const controller = new AbortController();
    const pending = client.chat.completions
      .create({ model: 'm', messages: [user('x')] }, { signal: controller.signal })
      .catch((e) => e);
    await vi.waitFor(() => expect(timers.set).toHaveLength(1));
    controller.abort();
    expect(await pending).toBeInstanceOf(APIUserAbortError);
    await vi.waitFor(() => expect(timers.cleared).toEqual(timers.set));
    const after = await client.chat.completions.create({ model: 'm', messages: [user('x')] });
    expect(after.choices[0]?.message.content).toBe('next');
  });

  it('stops streaming when the client aborts mid-stream', async () => {
    const timers = watchTimers(60_000);
    onTestFinished(() => timers.restore());
    fake.reply({ content: 'a b c d e f g h', chunkDelayMs: 60_000 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'm', messages: [user('x')], stream: true },
      { signal: controller.signal },
    );
    const deltas: string[] = [];
    for await (const chunk of stream) {
      deltas.push(chunk.choices[0]?.delta.content ?? '');
      if (deltas.length === 2) {
        await vi.waitFor(() => expect(timers.set).toHaveLength(1));
        controller.abort();
      }
    }
    expect(deltas).toEqual(['', 'a ']); // the role chunk and the first piece arrived, then nothing
    await vi.waitFor(() => expect(timers.cleared).toEqual(timers.set));
  });

  it('close() does not hang on pending delays and open connections', async () => {
    const own = await startFakeOpenAI({ apiKey: 'other', model: 'own-model' });
    own.reply({ delayMs: 60_000, content: 'never' });
    const ownClient = new OpenAI({ apiKey: 'other', baseURL: own.url, maxRetries: 0 });
    const pending = ownClient.chat.completions.create({ model: 'm', messages: [user('x')] }).catch((e) => e);
    await vi.waitFor(() => expect(own.chatRequests()).toHaveLength(1));
    await own.close();
    await own.close(); // idempotent
    expect(await pending).toBeInstanceOf(APIConnectionError);
  });

  it('listens on the given port', async () => {
    const probe = await startFakeOpenAI();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const fixed = await startFakeOpenAI({ port });
    expect(fixed.url).toBe(`http://127.0.0.1:${port}/v1`);
    await fixed.close();
  });

  it('resets queue, records and responder', async () => {
    fake.reply('queued');
    fake.setResponder(() => 'responder');
    await client.models.list();
    fake.reset();
    expect(fake.requests).toHaveLength(0);
    const completion = await client.chat.completions.create({ model: 'm', messages: [user('z')] });
    expect(completion.choices[0]?.message.content).toBe('echo: z');
  });
});

describe('fake embeddings', () => {
  it('answers base64 by default through the SDK, decoding to the same vectors', async () => {
    const response = await client.embeddings.create({ model: 'emb', input: ['red apple', 'green apple'] });
    expect(fake.embeddingRequests()[0]?.body.encoding_format).toBe('base64');
    expect(response.model).toBe('emb');
    expect(response.data.map((item) => item.index)).toEqual([0, 1]);
    const first = response.data[0]!.embedding;
    expect(first).toHaveLength(64);
    expect(Array.from(first)).toEqual(Array.from(fake.embed('red apple')));
    expect(response.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
  });

  it('answers floats when asked, honouring dimensions', async () => {
    const response = await client.embeddings.create({
      model: 'emb',
      input: 'The Cat sat',
      encoding_format: 'float',
      dimensions: 16,
    });
    const vector = response.data[0]!.embedding;
    expect(Array.isArray(vector)).toBe(true);
    expect(vector).toHaveLength(16);
    expect(vector).toEqual(Array.from(fake.embed('the cat SAT', 16)));
    const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
  });

  it('is deterministic and puts texts that share words closer', async () => {
    const texts = [
      'the user prefers technical explanations',
      'technical explanations are preferred by the user',
      'bananas grow in tropical climates',
    ];
    const response = await client.embeddings.create({ model: 'emb', input: texts, dimensions: 256 });
    const [a, b, c] = response.data.map((item) => item.embedding);
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!));
    expect(cosine(a!, b!)).toBeGreaterThan(0.5);
    const again = await client.embeddings.create({ model: 'emb', input: texts[0]!, dimensions: 256 });
    expect(again.data[0]?.embedding).toEqual(a);
  });

  it('uses the dimensions option as its default', async () => {
    const own = await startFakeOpenAI({ dimensions: 8 });
    try {
      const ownClient = new OpenAI({ apiKey: own.apiKey, baseURL: own.url, maxRetries: 0 });
      const response = await ownClient.embeddings.create({ model: 'emb', input: 'x' });
      expect(response.data[0]?.embedding).toHaveLength(8);
    } finally {
      await own.close();
    }
  });

  it('rejects empty input and bad dimensions like OpenAI', async () => {
    const empty = await client.embeddings.create({ model: 'emb', input: '' }).catch((e) => e);
    expect(empty).toBeInstanceOf(BadRequestError);
    const none = await client.embeddings.create({ model: 'emb', input: [] }).catch((e) => e);
    expect(none).toBeInstanceOf(BadRequestError);
    const dims = await client.embeddings.create({ model: 'emb', input: 'x', dimensions: 0 }).catch((e) => e);
    expect(dims).toBeInstanceOf(BadRequestError);
    expect(dims.message).toContain('dimensions');
  });
});
