import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionsError } from '@sessions/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caught } from './caught.test-helper.js';
import { RemoteError } from './remote-error.js';
import { RemoteSession } from './remote-session.js';
import { json, sse, startWireServer, type WireServer, waitOrClose } from './wire-server.test-helper.js';

let server: WireServer;

beforeEach(async () => {
  server = await startWireServer();
});

afterEach(async () => {
  await server.close();
});

async function collect(iterable: AsyncIterable<{ delta: string }>): Promise<string[]> {
  const deltas: string[] = [];
  for await (const chunk of iterable) deltas.push(chunk.delta);
  return deltas;
}

/** A port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function bodyOf(index: number, path = '/agent'): Record<string, unknown> {
  return JSON.parse(server.requestsTo(path)[index]?.body ?? 'null');
}

describe('RemoteSession chat', () => {
  it('sends the message and returns the content', async () => {
    const remote = new RemoteSession({
      agentUrl: server.agentUrl,
      sessionId: 'chat_123',
      userId: 'user_456',
    });
    expect(await remote.chat('Hello')).toBe('Echo: Hello');
    expect(bodyOf(0)).toEqual({ message: 'Hello', session_id: 'chat_123', user_id: 'user_456' });
    const [request] = server.requestsTo('/agent');
    expect(request?.headers['content-type']).toMatch(/application\/json/);
    expect(request?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('continues the session the server started', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    expect(remote.sessionId).toBeUndefined();
    await remote.chat('first');
    expect(remote.sessionId).toBe('sess_1');
    await remote.sendMessage('second');
    expect(bodyOf(0)).toEqual({ message: 'first' });
    expect(bodyOf(1)).toEqual({ message: 'second', session_id: 'sess_1' });
    expect(server.sessions.get('sess_1')?.messages).toHaveLength(4);
  });

  it('runs concurrent first turns in the one session the first names', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    const answers = await Promise.all([remote.chat('a'), remote.chat('b'), remote.chat('c')]);
    expect(answers).toEqual(['Echo: a', 'Echo: b', 'Echo: c']);
    expect([...server.sessions.keys()]).toEqual(['sess_1']);
    expect(server.sessions.get('sess_1')?.messages).toHaveLength(6);
  });

  it('reads `response` from a server that answers only that', async () => {
    server.script((_req, res) => json(res, 200, { response: 'old style', session_id: 'legacy_1' }));
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    expect(await remote.chat('hi')).toBe('old style');
    expect(remote.sessionId).toBe('legacy_1');
  });

  it('sends the configured headers', async () => {
    const remote = new RemoteSession({
      agentUrl: server.agentUrl,
      sessionId: 's1',
      headers: { Authorization: 'Bearer secret' },
    });
    await remote.chat('hi');
    await remote.ping();
    for (const request of server.requests) expect(request.headers.authorization).toBe('Bearer secret');
  });

  it('accepts an agentUrl without a scheme', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl.replace('http://', '') });
    expect(await remote.chat('Hello')).toBe('Echo: Hello');
  });

  it('uses the injected fetch', async () => {
    const seen: string[] = [];
    const remote = new RemoteSession({
      agentUrl: server.agentUrl,
      fetch: (input, init) => {
        seen.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      },
    });
    await remote.chat('hi');
    expect(seen).toEqual([server.agentUrl]);
  });

  it('rejects bad input before sending anything', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    expect((await caught(remote.chat(''))).code).toBe('invalid_input');
    expect((await caught(remote.chat(42 as unknown as string))).code).toBe('invalid_input');
    expect(() => remote.stream('  ')).toThrow(/non-empty string/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('RemoteSession options', () => {
  it.each([
    [{ agentUrl: 'ftp://x/agent' }, /agentUrl/],
    [{ agentUrl: 'http://127.0.0.1:8000/agent', sessionId: '../x' }, /Invalid session id/],
    [{ agentUrl: 'http://127.0.0.1:8000/agent', sessionId: '' }, /Invalid session id/],
    [{ agentUrl: 'http://127.0.0.1:8000/agent', timeout: 0 }, /timeout/],
    [{ agentUrl: 'http://127.0.0.1:8000/agent', retries: -1 }, /retries/],
    [{ agentUrl: 'http://127.0.0.1:8000/agent', userId: '' }, /userId/],
  ])('rejects %j with InvalidInputError', (options, message) => {
    let error: unknown;
    try {
      new RemoteSession(options);
    } catch (thrown) {
      error = thrown;
    }
    expect(SessionsError.is(error) && error.code).toBe('invalid_input');
    expect((error as Error).message).toMatch(message);
  });

  it('needs a session for session calls', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    const error = await caught(remote.getContext());
    expect(error.code).toBe('invalid_input');
    expect(error.message).toMatch(/getContext\(\) needs a session/);
  });
});

describe('RemoteSession retries', () => {
  it('retries a 503 with the same Idempotency-Key, and the turn runs once', async () => {
    server.script((_req, res) =>
      json(res, 503, { error: { code: 'unavailable', message: 'busy' } }, { 'retry-after': '0' }),
    );
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    expect(await remote.chat('Hello')).toBe('Echo: Hello');
    const keys = server.requestsTo('/agent').map((req) => req.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    expect(server.modelRuns).toBe(1);

    await remote.chat('again');
    const third = server.requestsTo('/agent')[2]?.headers['idempotency-key'];
    expect(third).not.toBe(keys[0]);
  });

  it('answers a retried turn from the server cache after a lost answer, never twice', async () => {
    // The first attempt reaches the model, but its connection dies before the answer.
    server.script(async (req, res) => {
      server.script(() => false);
      const inner = await fetch(server.agentUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': String(req.headers['idempotency-key']),
        },
        body: req.body,
      });
      await inner.text();
      res.socket?.destroy();
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    expect(await remote.chat('once')).toBe('Echo: once');
    expect(server.modelRuns).toBe(1);
    expect(server.sessions.get('s1')?.messages.map((m) => m.content)).toEqual(['once', 'Echo: once']);
    const keys = new Set(server.requestsTo('/agent').map((req) => req.headers['idempotency-key']));
    expect(keys.size).toBe(1);
  });

  it('retries a 429 after its Retry-After', async () => {
    server.script((_req, res) =>
      json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '0' }),
    );
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    expect(await remote.ping()).toEqual({ status: 'ok' });
    expect(server.requestsTo('/health')).toHaveLength(2);
  });

  it('does not wait for a Retry-After longer than the timeout: RateLimitError', async () => {
    server.script((_req, res) =>
      json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '120' }),
    );
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1', timeout: 5_000 });
    const error = await caught(remote.chat('hi'));
    expect(error.name).toBe('RateLimitError');
    expect(error.code).toBe('rate_limited');
    expect(error.retryAfterMs).toBe(120_000);
    expect(error.status).toBe(429);
    expect(server.requestsTo('/agent')).toHaveLength(1);
  });

  it('gives up after `retries` and throws the last answer as a typed error', async () => {
    const busy = (_req: unknown, res: Parameters<typeof json>[0]): void =>
      json(res, 503, { error: { code: 'unavailable', message: 'overloaded' } }, { 'retry-after': '0' });
    server.script(busy, busy, busy);
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1', retries: 2 });
    const error = await caught(remote.chat('hi'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe('unavailable');
    expect(error.status).toBe(503);
    expect(error.message).toMatch(/overloaded/);
    expect(server.requestsTo('/agent')).toHaveLength(3);
    expect(server.modelRuns).toBe(0);
  });

  it('does not retry a 400', async () => {
    server.script((_req, res) => json(res, 400, { error: { code: 'invalid_input', message: 'bad' } }));
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    expect((await caught(remote.chat('hi'))).code).toBe('invalid_input');
    expect(server.requestsTo('/agent')).toHaveLength(1);
  });

  it('does not repeat an addMemory whose connection broke after it was sent', async () => {
    await new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' }).chat('make the session');
    server.script((_req, res) => {
      res.socket?.destroy();
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(remote.addMemory('likes tea'));
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/Cannot reach agent at http:\/\/127\.0\.0\.1:\d+\/sessions\/s1\/memory/);
    expect(server.requestsTo('/sessions/s1/memory')).toHaveLength(1);
  });
});

describe('RemoteSession errors', () => {
  it.each([
    [400, 'invalid_input', 'InvalidInputError'],
    [401, 'unauthorized', 'RemoteError'],
    [403, 'forbidden', 'RemoteError'],
    [404, 'not_found', 'NotFoundError'],
    [409, 'conflict', 'ConflictError'],
    [413, 'payload_too_large', 'RemoteError'],
    [502, 'model_error', 'ModelError'],
    [504, 'timeout', 'TimeoutError'],
  ])('maps %i %s to %s carrying status and code', async (status, code, name) => {
    server.script((_req, res) => json(res, status, { error: { code, message: `server says ${code}` } }));
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(remote.chat('hi'));
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.remoteCode).toBe(code);
    expect(error.url).toBe(server.agentUrl);
    expect(error.message).toContain(`server says ${code}`);
    expect(error.message).toContain(`POST ${server.agentUrl}: ${status}`);
  });

  it('keeps a code it does not know verbatim in remoteCode', async () => {
    server.script((_req, res) => json(res, 418, { error: { code: 'teapot', message: 'short and stout' } }));
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(remote.chat('hi'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.remoteCode).toBe('teapot');
    expect(error.status).toBe(418);
  });

  it('describes an answer without an error body by its status', async () => {
    server.script((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<h1>oops</h1>');
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(remote.chat('hi'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.status).toBe(500);
    expect(error.message).toBe(`POST ${server.agentUrl} failed with 500 Internal Server Error`);
  });

  it('maps a 404 of a session route to NotFoundError', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 'nobody' });
    const error = await caught(remote.getContext());
    expect(error.name).toBe('NotFoundError');
    expect(error.message).toMatch(/No session "nobody"/);
  });

  it('throws a typed error for an answer that is not the protocol', async () => {
    server.script((_req, res) => json(res, 200, { hello: 'world' }));
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(remote.chat('hi'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.message).toMatch(/without "content"/);
  });

  it('times out a slow answer with TimeoutError, without retrying', async () => {
    server.script((_req, res) => waitOrClose(res, 10_000));
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1', timeout: 200 });
    const error = await caught(remote.chat('hi'));
    expect(error.name).toBe('TimeoutError');
    expect(error.code).toBe('timeout');
    expect(error.message).toBe(`The agent at ${server.agentUrl} did not answer within 200 ms`);
    expect(server.requestsTo('/agent')).toHaveLength(1);
  });

  it('rejects with the abort reason when the caller aborts, without retrying', async () => {
    const controller = new AbortController();
    server.script((_req, res) => {
      controller.abort(new Error('user gave up'));
      return waitOrClose(res, 10_000);
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    await expect(remote.chat('hi', { signal: controller.signal })).rejects.toThrow('user gave up');
    expect(server.requestsTo('/agent')).toHaveLength(1);
  });
});

describe('RemoteSession ping', () => {
  it('GETs /health', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    expect(await remote.ping()).toEqual({ status: 'ok' });
    expect(server.requests.map((req) => `${req.method} ${req.path}`)).toEqual(['GET /health']);
  });

  it('names the URL when the agent is unreachable', async () => {
    const port = await freePort();
    let attempts = 0;
    const remote = new RemoteSession({
      agentUrl: `http://127.0.0.1:${port}/agent`,
      retries: 1,
      fetch: (input, init) => {
        attempts++;
        return fetch(input, init);
      },
    });
    const error = await caught(remote.ping());
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe('unavailable');
    expect(error.status).toBeUndefined();
    expect(error.message).toBe(`Cannot reach agent at http://127.0.0.1:${port}/health: connection refused`);
    expect(attempts).toBe(2);
  });

  it('says why fetch refuses a blocked port, without retrying', async () => {
    let attempts = 0;
    const remote = new RemoteSession({
      agentUrl: 'http://127.0.0.1:1/agent',
      fetch: (input, init) => {
        attempts++;
        return fetch(input, init);
      },
    });
    const error = await caught(remote.ping());
    expect(error.message).toBe(
      'Cannot reach agent at http://127.0.0.1:1/health: fetch refuses port 1 (a "bad port" of the Fetch standard): serve the agent on another port',
    );
    expect(attempts).toBe(1);
  });

  it('retries a refused connection until the agent is up', async () => {
    // A port that is free now and taken by a server a moment later.
    const port = await freePort();
    const late = createServer((_req, res) => json(res, 200, { status: 'ok' }));
    setTimeout(() => late.listen(port, '127.0.0.1'), 100);
    try {
      const remote = new RemoteSession({ agentUrl: `http://127.0.0.1:${port}/agent`, retries: 8 });
      expect(await remote.ping()).toEqual({ status: 'ok' });
    } finally {
      late.closeAllConnections();
      await new Promise<void>((resolve) => late.close(() => resolve()));
    }
  });
});

describe('RemoteSession delete after refused connections', () => {
  it('still says NotFoundError when the only failures were refused connections', async () => {
    const port = await freePort();
    const late = createServer((_req, res) =>
      json(res, 404, { error: { code: 'not_found', message: 'Session "s1" not found' } }),
    );
    setTimeout(() => late.listen(port, '127.0.0.1'), 100);
    try {
      const remote = new RemoteSession({
        agentUrl: `http://127.0.0.1:${port}/agent`,
        retries: 8,
        sessionId: 's1',
      });
      expect((await caught(remote.delete())).name).toBe('NotFoundError');
    } finally {
      late.closeAllConnections();
      await new Promise<void>((resolve) => late.close(() => resolve()));
    }
  });
});

describe('RemoteSession stream', () => {
  it('yields deltas, then keeps the session the done event names', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    const deltas = await collect(remote.stream('Hello there'));
    expect(deltas.join('')).toBe('Echo: Hello there');
    expect(deltas.length).toBeGreaterThan(1);
    expect(remote.sessionId).toBe('sess_1');
    expect(server.requestsTo('/agent')[0]?.headers.accept).toBe('text/event-stream');
    expect(await remote.chat('next')).toBe('Echo: next');
    expect(bodyOf(1)).toEqual({ message: 'next', session_id: 'sess_1' });
  });

  it("gives the done event's whole answer as `text`, iterated or not", async () => {
    server.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'raw words' });
      // The stored and final text, as middleware left it.
      sse(res, 'done', { content: 'RAW WORDS', response: 'RAW WORDS', session_id: 's1' });
      res.end();
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const stream = remote.stream('hi');
    expect((await collect(stream)).join('')).toBe('raw words');
    expect(await stream.text).toBe('RAW WORDS');
    expect(await remote.stream('again').text).toBe('Echo: again');
    expect(server.requestsTo('/agent')).toHaveLength(2);
  });

  it('keeps every delta for a loop that starts after `text` was read, and throws its failure there too', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const stream = remote.stream('one two three four');
    const text = stream.text;
    expect(await text).toBe('Echo: one two three four');
    expect((await collect(stream)).join('')).toBe('Echo: one two three four');

    server.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'partial ' });
      sse(res, 'error', { error: { code: 'model_error', message: 'The model call failed' } });
      res.end();
    });
    const failing = remote.stream('hi');
    expect((await caught(failing.text)).code).toBe('model_error');
    const deltas: string[] = [];
    const error = await caught(
      (async () => {
        for await (const { delta } of failing) deltas.push(delta);
      })(),
    );
    expect(error.code).toBe('model_error');
    expect(deltas).toEqual(['partial ']);
  });

  it('rejects `text` as the stream fails, and when the loop is left early', async () => {
    server.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'error', { error: { code: 'model_error', message: 'The model call failed' } });
      res.end();
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const failing = remote.stream('hi');
    expect((await caught(collect(failing))).code).toBe('model_error');
    expect((await caught(failing.text)).code).toBe('model_error');
    await expect(remote.stream('x', { signal: AbortSignal.abort() }).text).rejects.toMatchObject({
      name: 'AbortError',
    });
    const left = remote.stream('bye');
    for await (const _chunk of left) break;
    await expect(left.text).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('sends nothing until iterated', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    remote.stream('lazy');
    await remote.ping();
    expect(server.requestsTo('/agent')).toHaveLength(0);
  });

  it('aborts the request when the loop is left early', async () => {
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => {
      closed = resolve;
    });
    server.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'first ' });
      res.on('close', closed);
      await waitOrClose(res, 10_000);
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    for await (const chunk of remote.stream('hi')) {
      expect(chunk.delta).toBe('first ');
      break;
    }
    await gone;
    expect(server.disconnects).toBe(1);
  });

  it('throws a typed error when the stream is cut before done', async () => {
    server.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'partial ' });
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const deltas: string[] = [];
    const error = await caught(
      (async () => {
        for await (const chunk of remote.stream('hi')) deltas.push(chunk.delta);
      })(),
    );
    expect(deltas).toEqual(['partial ']);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(new RegExp(`stream from ${server.agentUrl} broke|ended the stream`));
  });

  it('throws a typed error when the stream ends without done', async () => {
    server.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'partial ' });
      res.end();
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(collect(remote.stream('hi')));
    expect(error.message).toBe(`The agent at ${server.agentUrl} ended the stream before the answer was done`);
  });

  it('turns an error event into a typed error', async () => {
    server.script((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'Hel' });
      sse(res, 'error', { error: { code: 'model_error', message: 'The model failed' } });
      res.end();
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(collect(remote.stream('hi')));
    expect(error.name).toBe('ModelError');
    expect(error.status).toBeUndefined();
    expect(error.message).toBe(`The model failed (POST ${server.agentUrl}: in its event stream)`);
  });

  it('does not count the time the caller holds a delta against the timeout', async () => {
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1', timeout: 100 });
    const deltas: string[] = [];
    for await (const { delta } of remote.stream('take your time')) {
      deltas.push(delta);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(deltas.join('')).toBe('Echo: take your time');
  });

  it('times out a stream that goes quiet', async () => {
    server.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      sse(res, 'delta', { delta: 'a ' });
      await waitOrClose(res, 10_000);
    });
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1', timeout: 200 });
    const error = await caught(collect(remote.stream('hi')));
    expect(error.name).toBe('TimeoutError');
    expect(error.message).toBe(`The agent at ${server.agentUrl} sent nothing for 200 ms`);
  });

  it('maps an error answer before the stream starts, after retrying a 503', async () => {
    server.script(
      (_req, res) =>
        json(res, 503, { error: { code: 'unavailable', message: 'busy' } }, { 'retry-after': '0' }),
      (_req, res) => json(res, 400, { error: { code: 'invalid_input', message: 'nope' } }),
    );
    const remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 's1' });
    const error = await caught(collect(remote.stream('hi')));
    expect(error.name).toBe('InvalidInputError');
    const keys = server.requestsTo('/agent').map((req) => req.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
  });

  it('takes a JSON answer from a server that does not stream as one delta', async () => {
    server.script((_req, res) => json(res, 200, { content: 'all at once', session_id: 's9' }));
    const remote = new RemoteSession({ agentUrl: server.agentUrl });
    expect(await collect(remote.stream('hi'))).toEqual(['all at once']);
    expect(remote.sessionId).toBe('s9');
  });
});

describe('RemoteSession session, state, memory and knowledge', () => {
  let remote: RemoteSession;
  beforeEach(async () => {
    remote = new RemoteSession({ agentUrl: server.agentUrl, sessionId: 'chat_123', userId: 'user_456' });
    await remote.chat('one');
    await remote.chat('two');
  });

  it('getContext() and messages() across pages', async () => {
    const context = await remote.getContext();
    expect(context).toMatchObject({
      sessionId: 'chat_123',
      userId: 'user_456',
      messageCount: 4,
      agents: ['Echo'],
    });
    const messages = await remote.messages();
    expect(messages.map((m) => m.content)).toEqual(['one', 'Echo: one', 'two', 'Echo: two']);
    expect(server.requestsTo('/sessions/chat_123/messages').length).toBeGreaterThan(1);
  });

  it('reads a context in the reference docs spelling', async () => {
    server.script((_req, res) =>
      json(res, 200, {
        session_id: 'chat_123',
        user_id: 'user_456',
        created_at: '2026-01-01T00:00:00.000Z',
        message_count: 3,
      }),
    );
    expect(await remote.getContext()).toMatchObject({
      sessionId: 'chat_123',
      userId: 'user_456',
      createdAt: '2026-01-01T00:00:00.000Z',
      messageCount: 3,
      agents: [],
    });
  });

  it('saveState(), setState(), state() and restoreState()', async () => {
    await remote.saveState({ topic: 'AI research' });
    await remote.setState('step', 2);
    expect(await remote.state()).toEqual({ topic: 'AI research', step: 2 });
    expect(await remote.restoreState()).toEqual({ topic: 'AI research', step: 2 });
    expect(await remote.getState('step', 0)).toBe(2);
    expect(await remote.getState('missing', 'fallback')).toBe('fallback');
    expect(await remote.incrementState('visits')).toBe(1);
    expect(await remote.incrementState('visits', 5)).toBe(6);
    expect(bodyOf(1, '/sessions/chat_123/state/visits/increment')).toEqual({ by: 5, default: 0 });
    expect((await caught(remote.saveState([] as unknown as Record<string, unknown>))).code).toBe(
      'invalid_input',
    );
  });

  it('addMemory(), searchMemory() and clearMemory()', async () => {
    const record = await remote.addMemory('User prefers technical explanations', { type: 'long' });
    expect(record.text).toBe('User prefers technical explanations');
    await remote.addMemory('Short-lived note about preferences', {
      type: 'short',
      metadata: { from: 'test' },
    });
    expect(bodyOf(1, '/sessions/chat_123/memory')).toEqual({
      text: 'Short-lived note about preferences',
      type: 'short',
      metadata: { from: 'test' },
    });
    await remote.addMemory('User prefers dark mode everywhere', { scope: 'user' });
    expect(bodyOf(2, '/sessions/chat_123/memory')).toEqual({
      text: 'User prefers dark mode everywhere',
      scope: 'user',
    });
    const badScope = await caught(remote.addMemory('x', { scope: 'team' as 'user' }));
    expect([badScope.code, badScope.message]).toEqual([
      'invalid_input',
      'addMemory scope must be "session" or "user"',
    ]);
    await remote.clearMemory();
    await remote.addMemory('User prefers technical explanations', { type: 'long' });
    await remote.addMemory('Short-lived note about preferences', { type: 'short' });
    const hits = await remote.searchMemory('prefer');
    expect(hits.map((hit) => hit.text)).toHaveLength(2);
    expect(await remote.searchMemory('prefer', { type: 'short', limit: 1 })).toHaveLength(1);
    const search = server.requestsTo('/sessions/chat_123/memory').at(-1);
    expect(Object.fromEntries(search?.query ?? [])).toEqual({ q: 'prefer', type: 'short', limit: '1' });
    expect(await remote.clearMemory('short')).toBe(1);
    expect(await remote.clearMemory()).toBe(1);
    expect(await remote.searchMemory('prefer')).toEqual([]);
  });

  it('addKnowledge() of text and of { text, title }, and searchKnowledge()', async () => {
    const doc = await remote.addKnowledge('Important finding: AI improves efficiency by 40%');
    expect(doc.source).toBe('text');
    await remote.addKnowledge({ text: 'Efficiency report body', title: 'Report' }, { id: 'report' });
    expect(bodyOf(1, '/sessions/chat_123/knowledge')).toEqual({
      text: 'Efficiency report body',
      title: 'Report',
      id: 'report',
    });
    const hits = await remote.searchKnowledge('efficiency', { limit: 3 });
    expect(hits.map((hit) => hit.documentId)).toEqual(['doc_1', 'doc_2']);
  });

  it('uploads a local file named by a string or { path }, never the path itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'remote-client-'));
    try {
      const file = join(dir, 'research_paper.md');
      await writeFile(file, '# Paper\nAI improves efficiency by 40%');
      const doc = await remote.addKnowledge(file);
      expect(doc.source).toBe('research_paper.md');
      await remote.addKnowledge({ path: file, title: 'The paper' }, { id: 'paper' });
      const form = await new Request('http://x/', {
        method: 'POST',
        headers: { 'content-type': server.requestsTo('/sessions/chat_123/knowledge')[1]?.contentType ?? '' },
        body: server.requestsTo('/sessions/chat_123/knowledge')[1]?.bytes,
      }).formData();
      expect([form.get('id'), form.get('title'), (form.get('file') as File).name]).toEqual([
        'paper',
        'The paper',
        'research_paper.md',
      ]);
      for (const request of server.requestsTo('/sessions/chat_123/knowledge')) {
        expect(request.contentType).toMatch(/^multipart\/form-data/);
        expect(request.body).not.toContain(dir);
      }
      expect((await remote.searchKnowledge('efficiency'))[0]?.text).toBe(
        '# Paper\nAI improves efficiency by 40%',
      );
      const missing = await caught(remote.addKnowledge({ path: join(dir, 'nope.pdf') }));
      expect(missing.code).toBe('not_found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('throws NotFoundError for a file name that names no file, as a local session does', async () => {
    for (const name of ['research_paper.pdf', '/etc/definitely-not-here.pdf', './notes.md']) {
      const error = await caught(remote.addKnowledge(name));
      expect([error.name, error.code, error.message]).toEqual([
        'NotFoundError',
        'not_found',
        `addKnowledge: no such file: ${name}`,
      ]);
    }
    expect(server.requestsTo('/sessions/chat_123/knowledge')).toEqual([]);
  });

  it('sends a string that is no file name as text', async () => {
    await remote.addKnowledge('see notes.md for details');
    await remote.addKnowledge('Version2.0');
    const bodies = server.requestsTo('/sessions/chat_123/knowledge').map((r) => JSON.parse(r.body));
    expect(bodies).toEqual([{ text: 'see notes.md for details' }, { text: 'Version2.0' }]);
  });

  it('refuses a URL: the remote server does not fetch URLs', async () => {
    for (const source of ['https://example.com/paper.pdf', { url: 'http://example.com/a' }]) {
      const error = await caught(remote.addKnowledge(source as string));
      expect(error.code).toBe('invalid_input');
      expect(error.message).toContain('the remote server does not fetch URLs');
      expect(error.message).toContain('{ data, filename }');
    }
    expect(server.requestsTo('/sessions/chat_123/knowledge')).toEqual([]);
  });

  it('uploads bytes and Blobs with their filename', async () => {
    await remote.addKnowledge({
      data: new TextEncoder().encode('bytes about efficiency'),
      filename: 'a.txt',
    });
    await remote.addKnowledge({ data: new Blob(['blob about efficiency']), filename: 'b.txt' });
    const hits = await remote.searchKnowledge('efficiency');
    expect(hits.map((hit) => [hit.source, hit.text])).toEqual([
      ['a.txt', 'bytes about efficiency'],
      ['b.txt', 'blob about efficiency'],
    ]);
    const bad = await caught(remote.addKnowledge({ data: new Uint8Array(1), filename: '' }));
    expect(bad.code).toBe('invalid_input');
  });

  it('delete() removes the session', async () => {
    await remote.delete();
    expect(server.sessions.has('chat_123')).toBe(false);
    expect((await caught(remote.getContext())).name).toBe('NotFoundError');
  });
});
