import {
  BudgetExceededError,
  ConflictError,
  InvalidInputError,
  ModelError,
  NotConfiguredError,
  NotFoundError,
  RateLimitError,
  SessionCorruptError,
  type SessionState,
  SessionsError,
  TimeoutError,
} from '@sessions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { errorAnswer, HttpError, STATUS_BY_CODE } from './error-response.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';

describe('errorAnswer', () => {
  it('maps every core error code to its status in one table', () => {
    const cases: Array<[Error, number, string]> = [
      [new InvalidInputError('bad'), 400, 'invalid_input'],
      [new SessionsError('unauthorized', 'who?'), 401, 'unauthorized'],
      [new SessionsError('forbidden', 'no'), 403, 'forbidden'],
      [new BudgetExceededError('spent'), 403, 'budget_exceeded'],
      [new NotFoundError('gone'), 404, 'not_found'],
      [new ConflictError('clash'), 409, 'conflict'],
      [new SessionsError('payload_too_large', 'big'), 413, 'payload_too_large'],
      [new RateLimitError('slow down', { retryAfterMs: 1_500 }), 429, 'rate_limited'],
      [new NotConfiguredError('no memory'), 501, 'not_configured'],
      [new ModelError('upstream said: key sk-123', { status: 503 }), 502, 'model_error'],
      [new SessionsError('unavailable', 'later'), 503, 'unavailable'],
      [new TimeoutError('slow'), 504, 'timeout'],
      [new HttpError('method_not_allowed', 'use POST'), 405, 'method_not_allowed'],
    ];
    for (const [error, status, code] of cases) {
      const answer = errorAnswer(error);
      expect(answer.status).toBe(status);
      expect(answer.body.error.code).toBe(code);
      expect(STATUS_BY_CODE[code as keyof typeof STATUS_BY_CODE]).toBe(status);
    }
    expect(errorAnswer(new RateLimitError('x', { retryAfterMs: 1_500 })).headers['retry-after']).toBe('2');
  });

  it('never puts internal detail on the wire for server faults', () => {
    const corrupt = errorAnswer(
      new SessionCorruptError('Bad JSON in /srv/data/.sessions/a/state.json', { file: 'x' }),
    );
    expect(corrupt.status).toBe(500);
    expect(corrupt.body.error.message).not.toContain('/srv');
    const crash = errorAnswer(new TypeError("Cannot read properties of undefined (reading 'x')"), 'req-1');
    expect(crash).toMatchObject({ status: 500, serverFault: true });
    expect(crash.body).toEqual({
      error: { code: 'internal_error', message: 'Internal server error', request_id: 'req-1' },
    });
    const model = errorAnswer(new ModelError('Incorrect API key provided: sk-***abcd', { status: 401 }));
    expect(model.body.error.message).toBe('The model call failed (the provider answered 401)');
  });
});

describe('bad input over the wire', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('refuses invalid session ids with 400: ../x (URL-encoded), empty, too long, bad characters', async () => {
    harness = await startHarness();
    for (const sessionId of ['../x', '', 'a'.repeat(129), 'has space', '..', 'x/y']) {
      const { status, body } = await harness.agent({ message: 'Hi', session_id: sessionId });
      expect(status, sessionId).toBe(400);
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.message).toMatch(/Invalid session id/);
    }
    for (const path of [
      '/sessions/..%2Fx',
      '/sessions/..%2F..%2Fetc%2Fpasswd/messages',
      `/sessions/${'b'.repeat(200)}`,
    ]) {
      const { status, body } = await harness.call(path);
      expect(status, path).toBe(400);
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.message).toMatch(/Invalid session id/);
    }
    const traversal = await harness.call('/sessions/..%2Fx/state', { method: 'PATCH', json: { a: 1 } });
    expect(traversal.status).toBe(400);
    expect(harness.fake.chatRequests()).toHaveLength(0);
  });

  it('refuses malformed JSON, an empty body, a non-object body and a missing or empty message with 400', async () => {
    harness = await startHarness();
    const send = async (body: string): Promise<{ status: number; code: string; message: string }> => {
      const response = await harness!.request('/agent', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      const json = (await response.json()) as { error: { code: string; message: string } };
      return { status: response.status, ...json.error };
    };
    expect(await send('{"message": "Hi",')).toMatchObject({ status: 400, code: 'invalid_input' });
    expect((await send('{"message": "Hi",')).message).toMatch(/Malformed JSON/);
    expect(await send('')).toMatchObject({ status: 400, message: expect.stringMatching(/empty/) });
    expect(await send('[1, 2]')).toMatchObject({
      status: 400,
      message: expect.stringMatching(/JSON object/),
    });
    expect(await send('"Hi"')).toMatchObject({ status: 400 });
    expect(await send('{}')).toMatchObject({ status: 400, message: expect.stringMatching(/"message"/) });
    expect(await send('{"session_id": "s"}')).toMatchObject({ status: 400 });
    expect(await send('{"message": "   "}')).toMatchObject({
      status: 400,
      message: expect.stringMatching(/empty/),
    });
    expect(await send('{"message": 42}')).toMatchObject({
      status: 400,
      message: expect.stringMatching(/string/),
    });
    expect(await send('{"message": "Hi", "user_id": ""}')).toMatchObject({ status: 400 });
    expect(await send('{"message": "Hi", "session_id": 7}')).toMatchObject({ status: 400 });
    expect(harness.fake.chatRequests()).toHaveLength(0);
  });

  it('accepts null session_id and user_id as absent, and ignores unknown fields', async () => {
    harness = await startHarness();
    const { status, body } = await harness.agent({
      message: 'Hi',
      session_id: null,
      user_id: null,
      extra: 1,
    });
    expect(status).toBe(200);
    expect(body.session_id).toMatch(/^sess_/);
  });

  it('answers 413 to a body over the limit, with or without a content-length', async () => {
    harness = await startHarness({ bodyLimit: 1_000 });
    const big = JSON.stringify({ message: 'x'.repeat(2_000), session_id: 'big' });
    const sized = await harness.request('/agent', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'application/json' },
    });
    expect(sized.status).toBe(413);
    expect(((await sized.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    const encoder = new TextEncoder();
    const chunked = await harness.request('/agent', {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(encoder.encode(big.slice(0, 900)));
          controller.enqueue(encoder.encode(big.slice(900)));
          controller.close();
        },
      }),
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await harness.store.load('big')).toBeUndefined();
    // Under the limit is fine.
    expect((await harness.agent({ message: 'small' })).status).toBe(200);
  });

  it('has a 10 MiB default body limit', async () => {
    harness = await startHarness();
    const response = await harness.request('/agent', {
      method: 'POST',
      body: JSON.stringify({ message: 'x'.repeat(10 * 1024 * 1024 + 1) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(413);
  });

  it('answers 404 to unknown routes and 405 (with Allow) to a wrong method', async () => {
    harness = await startHarness();
    const unknown = await harness.call('/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    const wrong = await harness.call('/agent');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(wrong.body.error.code).toBe('method_not_allowed');
    const wrongOnSession = await harness.call('/sessions/abc', { method: 'POST', json: {} });
    expect(wrongOnSession.status).toBe(405);
    expect(wrongOnSession.headers.get('allow')).toBe('GET, DELETE');
  });

  it('answers a stored session that cannot be read with 500 and a safe message', async () => {
    harness = await startHarness();
    const state: SessionState = {
      schemaVersion: 1,
      sessionId: 'damaged',
      userId: 'u',
      createdAt: '2024-01-01T00:00:00.000Z',
      updatedAt: '2024-01-01T00:00:00.000Z',
      data: {},
      agents: [],
      metadata: { owner: 'anonymous' },
    };
    await harness.store.saveState('damaged', state);
    const damaged = (): SessionCorruptError =>
      new SessionCorruptError('Bad line 3 of /var/lib/app/.sessions/damaged/messages.jsonl', {
        file: '/var/lib/app/.sessions/damaged/messages.jsonl',
      });
    const store = harness.store;
    const load = store.load.bind(store);
    store.load = async (id) => {
      if (id === 'damaged') throw damaged();
      return load(id);
    };
    const loadSince = store.loadSince!.bind(store);
    store.loadSince = async (id, cursor) => {
      if (id === 'damaged') throw damaged();
      return loadSince(id, cursor);
    };
    const { status, body } = await harness.agent({ message: 'Hi', session_id: 'damaged' });
    expect(status).toBe(500);
    expect(body.error.code).toBe('session_corrupt');
    expect(JSON.stringify(body)).not.toContain('/var/lib');
  });

  it('answers 501 for memory and knowledge routes when the server has none', async () => {
    harness = await startHarness();
    const memory = await harness.call('/sessions/s/memory', { json: { text: 'x' } });
    expect(memory.status).toBe(501);
    expect(memory.body.error.code).toBe('not_configured');
    expect(memory.body.error.message).toContain('createAgentServer');
    const knowledge = await harness.call('/sessions/s/knowledge?q=x');
    expect(knowledge.status).toBe(501);
  });
});
