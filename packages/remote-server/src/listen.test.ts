import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { MemorySessionStore } from '@sessions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentServer } from './agent-server.js';
import { InflightTracker } from './inflight-tracker.js';
import { listen } from './listen.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;

/** A keep-alive `POST` of `body` to `url` with node:http: the answer's status and `Connection` header. */
function keptAlivePost(
  url: string,
  body: unknown,
): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', connection: 'keep-alive' } },
      (answer) => {
        answer.resume();
        answer.on('end', () =>
          resolve({ status: answer.statusCode ?? 0, connection: answer.headers.connection }),
        );
      },
    );
    sent.on('error', reject);
    sent.end(JSON.stringify(body));
  });
}
/** The answers read from `socket` until it closes: each one's status line and headers (lower-cased names). */
function answersOf(socket: Socket): Promise<Array<{ status: number; headers: Record<string, string> }>> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const answers = [];
      for (const match of text.matchAll(/HTTP\/1\.[01] (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)) {
        const headers: Record<string, string> = {};
        for (const line of match[2]!.split('\r\n')) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        answers.push({ status: Number(match[1]), headers });
      }
      resolve(answers);
    });
  });
}

/** An HTTP/1.1 `POST` of `body` to `path`, as written on a connection. */
function rawPost(path: string, body: unknown, host = '127.0.0.1'): string {
  const text = JSON.stringify(body);
  return (
    `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`
  );
}
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const instantModel = {
  generate: async () => ({ content: 'ok' }),
  async *stream() {
    yield { type: 'done' as const, response: { content: 'ok' } };
  },
};

describe('listen', () => {
  it('refuses to bind anything but loopback without auth tokens, saying why and how to fix it', async () => {
    const server = createAgentServer({
      agent: { name: 'A' },
      model: instantModel,
      store: new MemorySessionStore(),
      logger: false,
    });
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      const error = await server.listen({ host, port: 0 }).then(
        () => undefined,
        (thrown: unknown) => thrown as Error,
      );
      expect(error, host).toBeInstanceOf(Error);
      expect(error!.message).toContain(`Refusing to listen on ${host} without auth`);
      expect(error!.message).toContain('auth: { tokens:');
      expect(error!.message).toContain('127.0.0.1');
    }
  });

  it('binds loopback without auth, and any address with tokens', async () => {
    const open = createAgentServer({
      agent: { name: 'A' },
      model: instantModel,
      store: new MemorySessionStore(),
      logger: false,
    });
    const local = await open.listen({ host: 'localhost', port: 0 });
    expect((await fetch(`${local.url}/health`)).status).toBe(200);
    await local.close();

    const guarded = createAgentServer({
      agent: { name: 'A' },
      model: instantModel,
      store: new MemorySessionStore(),
      logger: false,
      auth: { tokens: { secret: 'me' } },
    });
    const any = await guarded.listen({ host: '0.0.0.0', port: 0 });
    expect(any.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    const health = await fetch(`http://127.0.0.1:${any.port}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    await any.close();
  });

  it('says clearly when the port is taken', async () => {
    harness = await startHarness();
    const second = createAgentServer({
      agent: { name: 'A' },
      model: instantModel,
      store: new MemorySessionStore(),
      logger: false,
    });
    await expect(second.listen({ host: '127.0.0.1', port: harness.listening.port })).rejects.toThrow(
      /already in use/,
    );
  });

  it('shuts down gracefully: an in-flight turn finishes and is stored, then new connections are refused', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'Finished before closing', delayMs: 300 });
    const inFlight = harness.agent({ message: 'Slow one', session_id: 'closing' });
    await expect.poll(() => harness!.fake.chatRequests().length).toBe(1);
    const closed = harness.listening.close();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.content).toBe('Finished before closing');
    await closed;
    expect((await harness.store.load('closing'))?.messages).toHaveLength(2);
    await expect(fetch(`${harness.url}/health`)).rejects.toThrow();
  });

  it('tells kept-alive clients of answers still in flight at a shutdown to close the connection, on both paths', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'one', delayMs: 200 });
    harness.fake.reply({ content: 'two', delayMs: 200 });
    // `/agent` is the Node route's; `/agent?` goes through the app.
    const direct = keptAlivePost(`${harness.url}/agent`, { message: 'A', session_id: 'close-a' });
    const viaApp = keptAlivePost(`${harness.url}/agent?`, { message: 'B', session_id: 'close-b' });
    await expect.poll(() => harness!.fake.chatRequests().length).toBe(2);
    const closed = harness.listening.close();
    expect(await direct).toEqual({ status: 200, connection: 'close' });
    expect(await viaApp).toEqual({ status: 200, connection: 'close' });
    await closed;
  });

  it('answers a request pipelined behind a turn in flight at a shutdown with a 503 that closes, on both paths', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'one', delayMs: 200 });
    harness.fake.reply({ content: 'two', delayMs: 200 });
    // `/agent` is the Node route's; `/agent?` goes through the app.
    const connections = ['/agent', '/agent?'].map((path, i) => {
      const socket = connect(harness!.listening.port, '127.0.0.1');
      const answers = answersOf(socket);
      socket.write(rawPost(path, { message: 'A', session_id: `pipelined-${i}` }));
      return { socket, answers };
    });
    await expect.poll(() => harness!.fake.chatRequests().length).toBe(2);
    const closed = harness.listening.close();
    for (const { socket } of connections) socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    for (const { answers } of connections) {
      const [turn, refused, ...more] = await answers;
      // The turn's answer leaves the connection open for the 503, which closes it.
      expect(turn?.status).toBe(200);
      expect(turn?.headers.connection).toBeUndefined();
      expect([refused?.status, refused?.headers.connection]).toEqual([503, 'close']);
      expect(more).toEqual([]);
    }
    await closed;
  });

  it('closes the connection with a refusal of a foreign Host pipelined behind a turn at a shutdown', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'one', delayMs: 200 });
    const socket = connect(harness.listening.port, '127.0.0.1');
    const answers = answersOf(socket);
    socket.write(rawPost('/agent', { message: 'A', session_id: 'foreign-pipelined' }));
    await expect.poll(() => harness!.fake.chatRequests().length).toBe(1);
    const closed = harness.listening.close();
    socket.write('GET /health HTTP/1.1\r\nHost: rebound.example\r\n\r\n');
    const [turn, refused, ...more] = await answers;
    expect(turn?.status).toBe(200);
    expect(turn?.headers.connection).toBeUndefined();
    expect([refused?.status, refused?.headers.connection]).toEqual([403, 'close']);
    expect(more).toEqual([]);
    await closed;
  });

  it('leaves the Connection header an answer set itself when a request is pipelined behind it at a shutdown', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const listening = await listen(
      {
        fetch: () => new Response('fetched'),
        // `/slow` says it closes the connection, and answers once told to.
        nodeRoute: (incoming, outgoing) => {
          if (incoming.url !== '/slow') return false;
          outgoing.setHeader('connection', 'close');
          void answered.then(() => outgoing.end('slow'));
          return true;
        },
        tracker: new InflightTracker(),
        authConfigured: false,
      },
      { port: 0 },
    );
    const socket = connect(listening.port, '127.0.0.1');
    const answers = answersOf(socket);
    const asked = new Promise((resolve) => listening.server.once('request', resolve));
    socket.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await asked;
    const closed = listening.close();
    const pipelined = new Promise((resolve) => listening.server.once('request', resolve));
    socket.write('GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await pipelined;
    answer();
    // The app's `close` stands: the connection ends after its answer (the pipelined request unanswered).
    expect((await answers).map((one) => [one.status, one.headers.connection])).toEqual([[200, 'close']]);
    await closed;
  });

  it('keeps connections alive while not shutting down', async () => {
    harness = await startHarness();
    expect(await keptAlivePost(`${harness.url}/agent`, { message: 'A' })).toEqual({
      status: 200,
      connection: 'keep-alive',
    });
    expect(await keptAlivePost(`${harness.url}/agent?`, { message: 'B' })).toEqual({
      status: 200,
      connection: 'keep-alive',
    });
  });

  it('shuts down gracefully while a stream is in flight: the stream ends with done', async () => {
    harness = await startHarness();
    harness.fake.reply({ content: 'one two three', chunkDelayMs: 100 });
    const response = await harness.request('/agent', {
      json: { message: 'Stream', session_id: 'closing-stream' },
      headers: { accept: 'text/event-stream' },
    });
    const closed = harness.listening.close();
    const text = await response.text();
    await closed;
    expect(text).toContain('event: done');
    expect((await harness.store.load('closing-stream'))?.messages).toHaveLength(2);
  });
});
