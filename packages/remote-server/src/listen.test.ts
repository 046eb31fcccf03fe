import { request as httpRequest } from 'node:http';
import { MemorySessionStore } from '@sessions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentServer } from './agent-server.js';
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
