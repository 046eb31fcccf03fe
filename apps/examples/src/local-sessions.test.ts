// The local-session examples of the reference docs, through the public API, against the fake
// OpenAI-compatible server over real HTTP with the real openai SDK, and real files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from '@sessions/core';
import { afterResponse } from '@sessions/middleware';
import { OpenAIChatModel } from '@sessions/openai';
import { FsSessionStore } from '@sessions/state-fs';
import { type FakeOpenAI, startFakeOpenAI, useTempDir } from '@sessions/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-examples-' });
let fake: FakeOpenAI;
let model: OpenAIChatModel;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  model = new OpenAIChatModel({ apiKey: fake.apiKey, baseURL: fake.url, model: 'gpt-test', maxRetries: 0 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const userAndAssistant = <M extends { role: string }>(messages: M[]): M[] =>
  messages.filter((message) => message.role === 'user' || message.role === 'assistant');

describe('reference: local session options', () => {
  it('takes a required session id and an optional user id', () => {
    const session = new Session({ sessionId: 'unique_session_id', userId: 'user_identifier' });
    expect(session.getContext()).toMatchObject({ sessionId: 'unique_session_id', userId: 'user_identifier' });
    expect(new Session({ sessionId: 'only_id' }).userId).toBe('default_user');
  });
});

describe('reference: state management', () => {
  it('saves state, restores it in a new instance, and continues where it left off', async () => {
    const store = new FsSessionStore({ root: tmp.path });
    const session = new Session({ sessionId: 'chat_123', userId: 'user_456', store, model });
    fake.reply('Transformers are neural networks built on attention.');
    await session.Agent({ name: 'Assistant' }).chat('Tell me about transformers');
    await session.saveState({ topic: 'AI research' });

    // State persistence location
    expect(existsSync(join(tmp.path, 'chat_123', 'state.json'))).toBe(true);
    const onDisk = JSON.parse(readFileSync(join(tmp.path, 'chat_123', 'state.json'), 'utf8'));
    expect(onDisk).toMatchObject({
      sessionId: 'chat_123',
      userId: 'user_456',
      data: { topic: 'AI research' },
    });
    expect(onDisk.agents).toEqual([{ name: 'Assistant' }]);

    // Create new session instance, restore previous state, continue
    const restored = new Session({
      sessionId: 'chat_123',
      store: new FsSessionStore({ root: tmp.path }),
      model,
    });
    expect(await restored.restoreState()).toEqual({ topic: 'AI research' });
    expect(restored.userId).toBe('user_456');
    fake.reply('We were discussing transformers.');
    const response = await restored.Agent({ name: 'Assistant' }).chat('What were we discussing?');
    expect(response).toBe('We were discussing transformers.');

    const sent = fake.chatRequests().at(-1)?.body as { messages: { role: string; content: string }[] };
    expect(userAndAssistant(sent.messages).map((message) => message.content)).toEqual([
      'Tell me about transformers',
      'Transformers are neural networks built on attention.',
      'What were we discussing?',
    ]);
  });
});

describe('reference: session context', () => {
  it('exposes session id, user id, creation time and message count', async () => {
    const session = new Session({
      sessionId: 'ctx_1',
      userId: 'user_1',
      store: new FsSessionStore({ root: tmp.path }),
      model,
    });
    await session.Agent({ name: 'Assistant' }).chat('hello');
    const context = session.getContext();
    expect(context.sessionId).toBe('ctx_1');
    expect(context.userId).toBe('user_1');
    expect(Number.isNaN(Date.parse(context.createdAt))).toBe(false);
    expect(context.messageCount).toBe(2);
  });
});

describe('reference: multi-agent sessions', () => {
  it('lets agents of one session share its history', async () => {
    const session = new Session({
      sessionId: 'team_session',
      store: new FsSessionStore({ root: tmp.path }),
      model,
    });
    const researcher = session.Agent({ name: 'Researcher', instructions: 'You research topics' });
    const writer = session.Agent({ name: 'Writer', instructions: 'You write content' });
    fake.reply('Trend 1: small models. Trend 2: agents.');
    const research = await researcher.chat('Research AI trends');
    fake.reply('Article: small models and agents lead AI.');
    const article = await writer.chat('Write an article about the research');
    expect(research).toContain('Trend 1');
    expect(article).toContain('Article');

    const writerSaw = fake.chatRequests()[1]?.body as { messages: { role: string; content: string }[] };
    expect(writerSaw.messages[0]).toMatchObject({
      role: 'system',
      content: expect.stringContaining('You write content'),
    });
    expect(writerSaw.messages.map((message) => message.content)).toContain(research);

    const history = await new FsSessionStore({ root: tmp.path }).load('team_session');
    expect(history?.messages.filter((m) => m.role === 'assistant').map((m) => m.name)).toEqual([
      'Researcher',
      'Writer',
    ]);
  });
});

describe('reference: session middleware', () => {
  it('runs the simple (message, response) form around every turn', async () => {
    const log: string[] = [];
    const loggingMiddleware = (message: string, response: string) => {
      log.push(`Message: ${message}`, `Response: ${response.slice(0, 100)}...`);
      return response;
    };
    const session = new Session({
      sessionId: 'logged_session',
      model,
      middleware: [afterResponse(loggingMiddleware)],
    });
    fake.reply('Hi!');
    await session.Agent({ name: 'Assistant' }).chat('Hello');
    expect(log).toEqual(['Message: Hello', 'Response: Hi!...']);
  });
});

describe('durability and concurrency', () => {
  it('loses no message under 100 concurrent chat calls on one session', async () => {
    const session = new Session({ sessionId: 'busy', store: new FsSessionStore({ root: tmp.path }), model });
    const agent = session.Agent({ name: 'Assistant' });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => agent.chat(`message ${i}`)));
    expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => `echo: message ${i}`));

    const stored = await new FsSessionStore({ root: tmp.path }).load('busy');
    expect(stored?.messages.length).toBe(200);
    const users = stored!.messages.filter((m) => m.role === 'user').map((m) => m.content);
    expect(new Set(users)).toEqual(new Set(Array.from({ length: 100 }, (_, i) => `message ${i}`)));
    for (const [index, message] of stored!.messages.entries()) {
      if (message.role === 'user') {
        expect(stored!.messages[index + 1]).toMatchObject({
          role: 'assistant',
          content: `echo: ${message.content}`,
        });
      }
    }
  });

  it('streams through the real SDK and stores the turn', async () => {
    const store = new FsSessionStore({ root: tmp.path });
    const session = new Session({ sessionId: 'streamed', store, model });
    fake.reply({ content: 'one two three', chunks: ['one ', 'two ', 'three'] });
    const deltas: string[] = [];
    for await (const { delta } of session.Agent({ name: 'Assistant' }).stream('count')) deltas.push(delta);
    expect(deltas).toEqual(['one ', 'two ', 'three']);
    expect((await store.load('streamed'))?.messages.at(-1)).toMatchObject({ content: 'one two three' });
  });

  it('calls tools through the real SDK', async () => {
    const session = new Session({ model });
    fake.reply({ toolCalls: [{ name: 'add', arguments: { a: 2, b: 3 } }] }, 'The sum is 5.');
    const agent = session.Agent({
      name: 'Calculator',
      tools: [
        {
          name: 'add',
          description: 'Adds two numbers',
          parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } },
          execute: ({ a, b }: { a: number; b: number }) => a + b,
        },
      ],
    });
    expect(await agent.chat('What is 2 + 3?')).toBe('The sum is 5.');
    const second = fake.chatRequests()[1]?.body as { messages: { role: string; content: string }[] };
    expect(second.messages.at(-1)).toMatchObject({ role: 'tool', content: '5' });
  });
});
