import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemorySessionStore } from '@sessions/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentServer } from './agent-server.js';
import { captureLogger, type Harness, jsonOf, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const instantModel = {
  generate: async () => ({ content: 'instant' }),
  async *stream() {
    yield { type: 'delta' as const, delta: 'instant' };
    yield { type: 'done' as const, response: { content: 'instant' } };
  },
};

describe('createAgentServer', () => {
  it('serves through fetch alone, for hosts other than Node', async () => {
    const server = createAgentServer({
      agent: { name: 'Edge Agent' },
      model: instantModel,
      store: new MemorySessionStore(),
      logger: false,
    });
    const health = await server.fetch(new Request('http://edge.local/health'));
    expect(await health.json()).toEqual({ status: 'ok' });
    const answer = await server.fetch(
      new Request('http://edge.local/agent', {
        method: 'POST',
        body: JSON.stringify({ message: 'Hi', session_id: 'edge' }),
      }),
    );
    expect(await jsonOf(answer)).toMatchObject({ content: 'instant', session_id: 'edge' });
    expect(server.app.routes.length).toBeGreaterThan(5);
  });

  it('refuses options it cannot work with, saying what to pass', () => {
    const store = new MemorySessionStore();
    expect(() => createAgentServer({ agent: { name: '' }, model: instantModel, store })).toThrow(
      /agent.name/,
    );
    expect(() => createAgentServer({ agent: { name: 'A' }, model: undefined as never, store })).toThrow(
      /needs a model/,
    );
    expect(() =>
      createAgentServer({ agent: { name: 'A' }, model: instantModel, store: undefined as never }),
    ).toThrow(/needs a store/);
    expect(() =>
      createAgentServer({ agent: { name: 'A', memory: true }, model: instantModel, store }),
    ).toThrow(/memory: \(sessionId\)/);
    expect(() =>
      createAgentServer({ agent: { name: 'A', knowledge: true }, model: instantModel, store }),
    ).toThrow(/knowledge: \(sessionId\)/);
    expect(() =>
      createAgentServer({ agent: { name: 'A' }, model: instantModel, store, bodyLimit: 0 }),
    ).toThrow(/bodyLimit/);
    expect(() =>
      createAgentServer({ agent: { name: 'A' }, model: instantModel, store, auth: { tokens: {} } }),
    ).toThrow(/empty/);
  });

  it('logs one line per request with its request id, and server faults with the error', async () => {
    const { logger, lines } = captureLogger();
    harness = await startHarness({ logger });
    await harness.request('/health', { headers: { 'x-request-id': 'req-abc' } });
    const line = lines.find((l) => l.fields.reqId === 'req-abc');
    expect(line).toMatchObject({
      level: 'info',
      message: 'request',
      fields: { method: 'GET', path: '/health', status: 200, principal: 'anonymous' },
    });
    harness.fake.reply({ error: { status: 500, message: 'boom' } });
    const failed = await harness.agent({ message: 'Hi' }, { headers: { 'x-request-id': 'req-fail' } });
    expect(failed.status).toBe(502);
    expect(failed.body.error.request_id).toBe('req-fail');
    const error = lines.find((l) => l.level === 'error' && l.fields.reqId === 'req-fail');
    expect(error?.fields).toMatchObject({ code: 'model_error', err: expect.any(Error) });
  });

  it('logs a refused request with what the client was told, without an error or stack', async () => {
    const { logger, lines } = captureLogger();
    harness = await startHarness({ logger, auth: { tokens: { 'token-a': 'alice' } } });
    const refused = await harness.request('/sessions/s1', { headers: { 'x-request-id': 'req-401' } });
    expect(refused.status).toBe(401);
    const line = lines.find((l) => l.message === 'request refused' && l.fields.reqId === 'req-401');
    expect(line).toMatchObject({ level: 'info', fields: { code: 'unauthorized', status: 401 } });
    expect(line?.fields.reason).toEqual(expect.any(String));
    expect(line?.fields).not.toHaveProperty('err');
  });

  it('takes a pino logger', async () => {
    const chunks: string[] = [];
    const logger = pino({ level: 'info' }, { write: (chunk: string) => void chunks.push(chunk) });
    harness = await startHarness({ logger });
    await harness.request('/health', { headers: { 'x-request-id': 'pino-1' } });
    const lines = chunks.map((chunk) => JSON.parse(chunk) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ reqId: 'pino-1', status: 200, msg: 'request' }));
  });

  it('writes out a buffered log destination when the server closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'remote-server-log-'));
    try {
      const file = join(dir, 'server.log');
      // Lines wait in the buffer until 4 KiB gather: only the flush on close writes this one.
      const destination = pino.destination({ dest: file, sync: false, minLength: 4096 });
      await new Promise((resolve) => destination.once('ready', resolve));
      harness = await startHarness({ logger: pino({ level: 'info' }, destination) });
      await harness.request('/health', { headers: { 'x-request-id': 'flushed-1' } });
      expect(readFileSync(file, 'utf8')).toBe('');
      await harness.close();
      harness = undefined;
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toContainEqual(expect.objectContaining({ reqId: 'flushed-1', msg: 'request' }));
      destination.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers no CORS headers unless configured', async () => {
    harness = await startHarness();
    const plain = await harness.request('/health', { headers: { origin: 'https://app.example' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers CORS, preflight included, when configured', async () => {
    harness = await startHarness({ cors: { origin: 'https://app.example' }, auth: { tokens: { t: 'me' } } });
    const preflight = await harness.request('/agent', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const answer = await harness.agent(
      { message: 'Hi' },
      { token: 't', headers: { origin: 'https://app.example' } },
    );
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(answer.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });
});
