import { type ChatModel, type ChatRequest, MemorySessionStore } from '@sessions/core';
import { afterResponse, rateLimit, redact } from '@sessions/middleware';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, jsonOf, parseEvents, readEvents, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('POST /agent', () => {
  it('answers the reference docs remote example: { message, session_id } → content, metadata', async () => {
    harness = await startHarness();
    harness.fake.reply('Hello from the remote assistant');
    const before = Date.now();
    const { status, body, headers } = await harness.agent({ message: 'Hello', session_id: 'chat_123' });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(body).toMatchObject({
      content: 'Hello from the remote assistant',
      response: 'Hello from the remote assistant',
      session_id: 'chat_123',
      metadata: { agent_name: 'Remote Assistant' },
    });
    const timestamp = Date.parse(body.metadata.timestamp);
    expect(timestamp).toBeGreaterThanOrEqual(before - 1000);
    expect(new Date(timestamp).toISOString()).toBe(body.metadata.timestamp);
    // The agent's instructions reach the model, with the user's message.
    const sent = harness.fake.chatRequests()[0]!.body.messages;
    expect(sent[0]).toMatchObject({ role: 'system' });
    expect(String(sent[0]!.content)).toContain('You are a helpful remote assistant.');
    expect(sent.at(-1)).toMatchObject({ role: 'user', content: 'Hello' });
  });

  it('answers the model’s token usage, after middleware changed the reply, in JSON and in the done event', async () => {
    harness = await startHarness({ middleware: [afterResponse((_message, response) => `${response}!`)] });
    harness.fake.reply({ content: 'Counted', usage: { prompt_tokens: 7, completion_tokens: 3 } });
    const { body } = await harness.agent({ message: 'Count', session_id: 'usage' });
    expect(body.content).toBe('Counted!');
    expect(body.metadata.usage).toEqual({ inputTokens: 7, outputTokens: 3, totalTokens: 10 });
    harness.fake.reply({ content: 'Streamed', usage: { prompt_tokens: 5, completion_tokens: 2 } });
    const response = await harness.request('/agent', {
      json: { message: 'Stream', session_id: 'usage' },
      headers: { accept: 'text/event-stream' },
    });
    const done = (await readEvents(response)).find((event) => event.event === 'done');
    expect(done?.data.content).toBe('Streamed!');
    expect(done?.data.metadata.usage).toEqual({ inputTokens: 5, outputTokens: 2, totalTokens: 7 });
  });

  it("answers the reference client's style: { query, session_id, user_id } → response", async () => {
    harness = await startHarness();
    harness.fake.reply('Answer to the query');
    const { status, body } = await harness.agent({
      query: 'What is new?',
      session_id: 's-1',
      user_id: 'u-9',
    });
    expect(status).toBe(200);
    expect(body.response).toBe('Answer to the query');
    expect(body.content).toBe('Answer to the query');
    const context = (await harness.call('/sessions/s-1')).body;
    expect(context).toMatchObject({ sessionId: 's-1', userId: 'u-9', messageCount: 2 });
  });

  it('starts a new session when no session_id is sent, and the history continues with its id', async () => {
    harness = await startHarness();
    harness.fake.reply('Nice to meet you, Ada');
    const first = await harness.agent({ message: 'My name is Ada' });
    expect(first.status).toBe(200);
    const sessionId = first.body.session_id as string;
    expect(sessionId).toMatch(/^sess_[0-9a-f]{32}$/);

    harness.fake.reply('Your name is Ada');
    const second = await harness.agent({ message: 'What is my name?', session_id: sessionId });
    expect(second.body).toMatchObject({ content: 'Your name is Ada', session_id: sessionId });
    // The second model call saw the first turn.
    const sent = harness.fake.chatRequests()[1]!.body.messages.map((m) => [m.role, m.content]);
    expect(sent).toContainEqual(['user', 'My name is Ada']);
    expect(sent).toContainEqual(['assistant', 'Nice to meet you, Ada']);

    const another = await harness.agent({ message: 'Hi' });
    expect(another.body.session_id).not.toBe(sessionId);

    const page = (await harness.call(`/sessions/${sessionId}/messages`)).body;
    expect(page.messages.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', 'My name is Ada'],
      ['assistant', 'Nice to meet you, Ada'],
      ['user', 'What is my name?'],
      ['assistant', 'Your name is Ada'],
    ]);
  });

  it('streams SSE delta events and a done event with the whole answer and session id', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'Streaming works fine', chunks: ['Stream', 'ing works', ' fine'] });
    const response = await harness.request('/agent', {
      json: { message: 'Stream please', session_id: 'stream-1' },
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(response);
    expect(events.filter((e) => e.event === 'delta').map((e) => e.data.delta)).toEqual([
      'Stream',
      'ing works',
      ' fine',
    ]);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({
      content: 'Streaming works fine',
      response: 'Streaming works fine',
      session_id: 'stream-1',
      metadata: { agent_name: 'Remote Assistant' },
    });
    const page = (await harness.call('/sessions/stream-1/messages')).body;
    expect(page.total).toBe(2);
    expect(page.messages[1]).toMatchObject({ role: 'assistant', content: 'Streaming works fine' });
  });

  it('answers a stream whose model fails before the first delta with a JSON error and its status', async () => {
    harness = await startHarness();
    harness.fake.reply({ error: { status: 500, message: 'upstream exploded with secret detail' } });
    const response = await harness.request('/agent', {
      json: { message: 'Hi', session_id: 'stream-err' },
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(502);
    const body = await jsonOf(response);
    expect(body.error.code).toBe('model_error');
    expect(body.error.message).not.toContain('secret detail');
  });

  it('ends a stream whose model fails after the first delta with an error event, storing nothing', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'one two three four', hangUpAfterChunks: 2 });
    const response = await harness.request('/agent', {
      json: { message: 'Hi', session_id: 'stream-cut' },
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(200);
    const events = await readEvents(response);
    expect(events[0]).toMatchObject({ event: 'delta' });
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { error: { code: 'model_error' } } });
    const page = (await harness.call('/sessions/stream-cut/messages')).body;
    expect(page.total).toBe(0);
  });

  it('cancels the model call when a streaming client disconnects, and stores no half turn', async () => {
    const signals: AbortSignal[] = [];
    const outcomes: string[] = [];
    harness = await startHarness({
      wrapModel: (model): ChatModel => ({
        generate: (req) => model.generate(req),
        async *stream(req: ChatRequest) {
          if (req.signal) signals.push(req.signal);
          try {
            for await (const event of model.stream(req)) {
              if (event.type === 'done') outcomes.push('done');
              yield event;
            }
          } catch (error) {
            outcomes.push((error as Error).name);
            throw error;
          }
        },
      }),
    });
    harness.fake.reply({
      content: 'a long answer that takes its time to arrive',
      chunkDelayMs: 200,
    });
    const client = new AbortController();
    const response = await harness.request('/agent', {
      json: { message: 'Tell me a long story', session_id: 'gone-1' },
      headers: { accept: 'text/event-stream' },
      signal: client.signal,
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(parseEvents(new TextDecoder().decode(first.value))[0]).toMatchObject({ event: 'delta' });
    client.abort();
    await expect(reader.read()).rejects.toThrow();
    // The model request was cancelled (the OpenAI SDK closes its connection to the fake server).
    await expect.poll(() => signals[0]?.aborted).toBe(true);
    // close() waits for in-flight turns: after it, the cancelled turn has settled.
    await harness.listening.close();
    // The model's stream was cut short, never finished.
    expect(outcomes).toEqual(['AbortError']);
    const stored = await harness.store.load('gone-1');
    expect(stored?.messages ?? []).toEqual([]);
  });

  it('cancels the model call when a JSON client disconnects, and stores nothing', async () => {
    const signals: AbortSignal[] = [];
    const lines: Array<{ level: string; message: string }> = [];
    const record =
      (level: string) =>
      (_fields: Record<string, unknown>, message: string): void =>
        void lines.push({ level, message });
    harness = await startHarness({
      logger: { info: record('info'), warn: record('warn'), error: record('error') },
      wrapModel: (model): ChatModel => ({
        generate: (req) => {
          if (req.signal) signals.push(req.signal);
          return model.generate(req);
        },
        stream: (req) => model.stream(req),
      }),
    });
    harness.fake.reply({ content: 'never delivered', delayMs: 5_000 });
    const client = new AbortController();
    const pending = harness.request('/agent', {
      json: { message: 'Slow question', session_id: 'gone-json' },
      signal: client.signal,
    });
    await expect.poll(() => harness!.fake.chatRequests().length).toBe(1);
    client.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => signals[0]?.aborted).toBe(true);
    await harness.listening.close();
    expect((await harness.store.load('gone-json'))?.messages ?? []).toEqual([]);
    // A client that went away is not a server fault.
    expect(lines.filter((line) => line.level === 'error')).toEqual([]);
    expect(lines.map((line) => line.message)).toContain('turn cancelled: the client went away');
  });

  it('keeps a retried request with the same Idempotency-Key from running the model twice', async () => {
    harness = await startHarness();
    harness.fake.reply('The one and only answer');
    const headers = { 'idempotency-key': 'turn-42' };
    const first = await harness.agent({ message: 'Once', session_id: 'idem-1' }, { headers });
    const second = await harness.agent({ message: 'Once', session_id: 'idem-1' }, { headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(harness.fake.chatRequests()).toHaveLength(1);
    const page = (await harness.call('/sessions/idem-1/messages')).body;
    expect(page.total).toBe(2);
  });

  it('answers a retry after a restart with the same body, its timestamp included', async () => {
    const store = new MemorySessionStore();
    harness = await startHarness({ store, now: () => new Date('2026-01-01T10:00:00.000Z') });
    harness.fake.reply('Stored once');
    const headers = { 'idempotency-key': 'across-restart' };
    const first = await harness.agent({ message: 'Hi', session_id: 'restart-1' }, { headers });
    expect(first.body.metadata.timestamp).toBe('2026-01-01T10:00:00.000Z');
    await harness.close();
    harness = await startHarness({ store, now: () => new Date('2026-01-01T11:00:00.000Z') });
    const again = await harness.agent({ message: 'Hi', session_id: 'restart-1' }, { headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(harness.fake.chatRequests()).toHaveLength(0);
  });

  it('makes concurrent duplicates wait for the first, and answers the same session for a keyed new turn', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'Slow but single', delayMs: 150 });
    const headers = { 'idempotency-key': 'dup-key' };
    const answers = await Promise.all(
      [1, 2, 3].map(() => harness!.agent({ message: 'Only once please' }, { headers })),
    );
    expect(harness.fake.chatRequests()).toHaveLength(1);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(answers[0]!.body);
    }
    const sessionId = answers[0]!.body.session_id;
    const page = (await harness.call(`/sessions/${sessionId}/messages`)).body;
    expect(page.total).toBe(2);
  });

  it('refuses an Idempotency-Key reused for a different message (409)', async () => {
    harness = await startHarness();
    const headers = { 'idempotency-key': 'reused' };
    expect((await harness.agent({ message: 'First', session_id: 'k' }, { headers })).status).toBe(200);
    const other = await harness.agent({ message: 'Second', session_id: 'k' }, { headers });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
    expect(harness.fake.chatRequests()).toHaveLength(1);
  });

  it('tells a retry from another request under one key for long messages too (kept as a hash)', async () => {
    harness = await startHarness();
    const headers = { 'idempotency-key': 'long-one' };
    const long = 'a long question '.repeat(60);
    const first = await harness.agent({ message: long, session_id: 'lq' }, { headers });
    const again = await harness.agent({ message: long, session_id: 'lq' }, { headers });
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await harness.agent({ message: `${long}!`, session_id: 'lq' }, { headers });
    expect(other.status).toBe(409);
    expect(harness.fake.chatRequests()).toHaveLength(1);
  });

  it('replays a kept answer to a streaming retry as one delta and done', async () => {
    harness = await startHarness();
    harness.fake.reply('Kept answer');
    const headers = { 'idempotency-key': 'stream-key', accept: 'text/event-stream' };
    const first = await readEvents(
      await harness.request('/agent', { json: { message: 'Hi', session_id: 'sk' }, headers }),
    );
    const again = await readEvents(
      await harness.request('/agent', { json: { message: 'Hi', session_id: 'sk' }, headers }),
    );
    expect(harness.fake.chatRequests()).toHaveLength(1);
    expect(again.map((e) => e.event)).toEqual(['delta', 'done']);
    expect(again[0]!.data.delta).toBe('Kept answer');
    expect(again[1]!.data).toEqual(first.at(-1)!.data);
  });

  it('runs a retry again when the first attempt failed', async () => {
    harness = await startHarness();
    harness.fake.reply({ error: { status: 503, message: 'busy' } }, 'Second time lucky');
    const headers = { 'idempotency-key': 'retry-after-failure' };
    const failed = await harness.agent({ message: 'Hi', session_id: 'rf' }, { headers });
    expect(failed.status).toBe(502);
    const retried = await harness.agent({ message: 'Hi', session_id: 'rf' }, { headers });
    expect(retried.status).toBe(200);
    expect(retried.body.content).toBe('Second time lucky');
  });

  it('answers 504 when the model is slower than modelTimeoutMs, and cancels its request', async () => {
    harness = await startHarness({ modelTimeoutMs: 100 });
    harness.fake.reply({ content: 'too late', delayMs: 5_000 });
    const { status, body } = await harness.agent({ message: 'Hurry', session_id: 'slow-1' });
    expect(status).toBe(504);
    expect(body.error).toMatchObject({ code: 'timeout' });
    expect(body.error.message).toContain('100 ms');
    const stored = await harness.store.load('slow-1');
    expect(stored?.messages).toEqual([]);
  });

  it('answers 504 and stores nothing when a model that never looks at the signal answers too late', async () => {
    harness = await startHarness({
      modelTimeoutMs: 100,
      wrapModel: (openai) => ({
        // Never reads request.signal: the server's lazy signal is never made by it.
        generate: () => new Promise((resolve) => setTimeout(() => resolve({ content: 'deaf' }), 400)),
        stream: (request) => openai.stream(request),
      }),
    });
    const { status, body } = await harness.agent({ message: 'Hurry', session_id: 'deaf-1' });
    expect(status).toBe(504);
    expect(body.error).toMatchObject({ code: 'timeout' });
    expect((await harness.store.load('deaf-1'))?.messages).toEqual([]);
  });

  it('answers 502 when the model fails, without the provider message or a stack', async () => {
    harness = await startHarness();
    harness.fake.reply({ error: { status: 400, message: 'Invalid API parameter at /home/ops/app.js:12' } });
    const { status, body } = await harness.agent({ message: 'Hi' });
    expect(status).toBe(502);
    expect(body).toEqual({
      error: {
        code: 'model_error',
        message: 'The model call failed (the provider answered 400)',
        request_id: expect.any(String),
      },
    });
  });

  it('applies middleware from @sessions/middleware to remote turns', async () => {
    harness = await startHarness({
      middleware: [
        rateLimit({ limit: 1, windowMs: 60_000, key: (turn) => turn.sessionId }),
        redact(),
        afterResponse((_message, response) => `${response} [checked]`),
      ],
    });
    harness.fake.reply('Noted your address');
    const first = await harness.agent({ message: 'Mail me at ada@example.com', session_id: 'mw-1' });
    expect(first.body.content).toBe('Noted your address [checked]');
    const sentToModel = harness.fake.chatRequests()[0]!.body.messages.at(-1)!.content;
    expect(sentToModel).not.toContain('ada@example.com');

    const second = await harness.agent({ message: 'Again', session_id: 'mw-1' });
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('rate_limited');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('echoes a request id and makes one when none is sent', async () => {
    harness = await startHarness();
    const given = await harness.request('/health', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await harness.request('/health');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
