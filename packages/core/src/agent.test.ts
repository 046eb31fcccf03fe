import { describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import type { ChatModel } from './chat-model.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { MemoryRecord, MemoryStore } from './memory-store.js';
import type { Middleware } from './middleware.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';
import type { Tool } from './tool.js';

describe('Agent', () => {
  it('stores the user turn and the reply, tagged with the agent name', async () => {
    const store = new MemorySessionStore();
    const session = new Session({ sessionId: 's1', store, model: new ScriptedModel().reply('Hi there') });
    const reply = await session.Agent({ name: 'Assistant' }).chat('Hello');
    expect(reply).toBe('Hi there');
    const stored = await store.load('s1');
    expect(stored?.messages.map(({ role, content, name }) => ({ role, content, name }))).toEqual([
      { role: 'user', content: 'Hello', name: undefined },
      { role: 'assistant', content: 'Hi there', name: 'Assistant' },
    ]);
  });

  it('shares the history between the agents of a session', async () => {
    const model = new ScriptedModel().reply('AI trends: agents', 'Article about agents');
    const session = new Session({ model });
    const researcher = session.Agent({ name: 'Researcher', instructions: 'You research topics' });
    const writer = session.Agent({ name: 'Writer', instructions: 'You write content' });
    await researcher.chat('Research AI trends');
    await writer.chat('Write an article about the research');
    const second = model.requests[1]!;
    expect(second.messages[0]).toMatchObject({
      role: 'system',
      content: expect.stringContaining('You write content'),
    });
    expect(second.messages.slice(1).map(({ role, content, name }) => ({ role, content, name }))).toEqual([
      { role: 'user', content: 'Research AI trends', name: undefined },
      { role: 'assistant', content: 'AI trends: agents', name: 'Researcher' },
      { role: 'user', content: 'Write an article about the research', name: undefined },
    ]);
  });

  it('runs the tool loop and stores the tool messages', async () => {
    const calls: unknown[] = [];
    const weather: Tool<{ city: string }> = {
      name: 'weather',
      description: 'Weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      execute: ({ city }) => {
        calls.push(city);
        return { city, sky: 'clear' };
      },
    };
    const model = new ScriptedModel().reply(
      { content: '', toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' }] },
      'Clear in Paris',
    );
    const session = new Session({ model });
    const reply = await session.Agent({ name: 'A', tools: [weather] }).chat('Weather in Paris?');
    expect(reply).toBe('Clear in Paris');
    expect(calls).toEqual(['Paris']);
    expect(model.requests[0]?.tools?.[0]).toMatchObject({ name: 'weather' });
    expect(model.requests[1]?.messages.at(-1)).toMatchObject({
      role: 'tool',
      toolCallId: 'c1',
      content: '{"city":"Paris","sky":"clear"}',
    });
    expect((await session.messages()).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  });

  it('bounds the tool rounds and then asks for an answer without tools', async () => {
    const loop = { content: '', toolCalls: [{ id: 'x', name: 'noop', arguments: '{}' }] };
    const model = new ScriptedModel().reply(loop, loop, 'done');
    const noop: Tool = { name: 'noop', parameters: { type: 'object' }, execute: () => 'ok' };
    const reply = await new Session({ model })
      .Agent({ name: 'A', tools: [noop], maxToolRounds: 2 })
      .chat('go');
    expect(reply).toBe('done');
    expect(model.requests.length).toBe(3);
    expect(model.requests[2]?.tools).toBeUndefined();
  });

  it('reports tool errors and bad arguments to the model instead of failing the turn', async () => {
    const model = new ScriptedModel().reply(
      {
        content: '',
        toolCalls: [
          { id: 'a', name: 'fails', arguments: '{}' },
          { id: 'b', name: 'fails', arguments: '{not json' },
          { id: 'c', name: 'unknown', arguments: '{}' },
        ],
      },
      'recovered',
    );
    const fails: Tool = {
      name: 'fails',
      parameters: { type: 'object' },
      execute: () => {
        throw new Error('boom');
      },
    };
    expect(await new Session({ model }).Agent({ name: 'A', tools: [fails] }).chat('go')).toBe('recovered');
    const toolMessages = model.requests[1]!.messages.filter((m) => m.role === 'tool').map((m) => m.content);
    expect(toolMessages).toEqual([
      '{"error":"boom"}',
      '{"error":"Arguments of \\"fails\\" are not valid JSON"}',
      '{"error":"Unknown tool \\"unknown\\""}',
    ]);
  });

  it('streams deltas and stores the whole reply at the end', async () => {
    const session = new Session({ model: new ScriptedModel().reply('one two three') });
    const deltas: string[] = [];
    for await (const chunk of session.Agent({ name: 'A' }).stream('count')) deltas.push(chunk.delta);
    expect(deltas.join('')).toBe('one two three');
    expect(deltas.length).toBeGreaterThan(1);
    expect((await session.messages()).at(-1)).toMatchObject({ role: 'assistant', content: 'one two three' });
  });

  it('gives the final stored text of a stream as `text`, after middleware changed it', async () => {
    const shout: Middleware = async (_turn, next) => {
      const result = await next();
      return { ...result, content: result.content.toUpperCase() };
    };
    const session = new Session({
      model: new ScriptedModel().reply('one two', 'three'),
      middleware: [shout],
    });
    const stream = session.Agent({ name: 'A' }).stream('count');
    const deltas: string[] = [];
    for await (const chunk of stream) deltas.push(chunk.delta);
    expect(deltas.join('')).toBe('one two');
    expect(await stream.text).toBe('ONE TWO');
    expect((await session.messages()).at(-1)?.content).toBe('ONE TWO');
    // Without iterating: reading `text` runs the turn.
    expect(await session.Agent({ name: 'A' }).stream('more').text).toBe('THREE');
    expect(await session.messages()).toHaveLength(4);
  });

  it('leaves no unhandled rejection when `text` was read and the loop caught the failure', async () => {
    const failing: ChatModel = {
      generate: async () => {
        throw new Error('model down');
      },
      // biome-ignore lint/correctness/useYield: fails before its first delta
      async *stream() {
        throw new Error('model down');
      },
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const stream = new Session({ model: failing }).Agent({ name: 'A' }).stream('hi');
      void stream.text; // read, never awaited
      await expect(
        (async () => {
          for await (const _chunk of stream);
        })(),
      ).rejects.toThrow('model down');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
      await expect(stream.text).rejects.toThrow('model down');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects `text` of a stream left early, as the stream', async () => {
    const session = new Session({ model: new ScriptedModel().reply('a b c d e f g h') });
    const stream = session.Agent({ name: 'A' }).stream('go');
    for await (const _chunk of stream) break;
    await expect(stream.text).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('stores nothing when a stream is left early, and aborts the model call', async () => {
    const model = new ScriptedModel().reply('a b c d e f g h');
    const session = new Session({ model });
    for await (const _chunk of session.Agent({ name: 'A' }).stream('go')) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await session.messages()).toEqual([]);
    expect(model.requests[0]?.signal?.aborted).toBe(true);
  });

  it('honours an abort signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const session = new Session({ model: new ScriptedModel() });
    await expect(session.Agent({ name: 'A' }).chat('hi', { signal: controller.signal })).rejects.toThrow();
    expect(await session.messages()).toEqual([]);
  });

  it('runs middleware as an onion around every turn, and stores what it produced', async () => {
    const order: string[] = [];
    const outer: Middleware = async (turn, next) => {
      order.push('outer in');
      turn.message = turn.message.replace('secret', '[redacted]');
      const result = await next();
      order.push('outer out');
      return { ...result, content: result.content.toUpperCase() };
    };
    const inner: Middleware = async (turn, next) => {
      order.push(`inner sees ${turn.message}`);
      const result = await next();
      order.push('inner out');
      return result;
    };
    const model = new ScriptedModel();
    const session = new Session({ model, middleware: [outer, inner] });
    expect(await session.Agent({ name: 'A' }).chat('my secret')).toBe('ECHO: MY [REDACTED]');
    expect(order).toEqual(['outer in', 'inner sees my [redacted]', 'inner out', 'outer out']);
    expect(model.requests[0]?.messages.at(-1)?.content).toBe('my [redacted]');
    expect((await session.messages()).map((m) => m.content)).toEqual([
      'my [redacted]',
      'ECHO: MY [REDACTED]',
    ]);
  });

  it('loses no message under 100 concurrent turns on one session', async () => {
    const store = new MemorySessionStore();
    const session = new Session({ sessionId: 'busy', store, model: new ScriptedModel() });
    const agent = session.Agent({ name: 'A' });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => agent.chat(`m${i}`)));
    expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => `echo: m${i}`));
    const stored = (await store.load('busy'))!.messages;
    expect(stored.length).toBe(200);
    const users = stored.filter((m) => m.role === 'user').map((m) => m.content);
    expect(new Set(users).size).toBe(100);
  });

  it('works standalone with its own in-memory session', async () => {
    const agent = new Agent({ name: 'Solo', model: new ScriptedModel().reply('hi') });
    expect(await agent.chat('hello')).toBe('hi');
    expect(agent.session.getContext().messageCount).toBe(2);
  });

  it('refuses bad input with typed errors', async () => {
    const session = new Session({ model: new ScriptedModel() });
    expect(() => session.Agent({ name: '' })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    // @ts-expect-error a number is not a message
    await expect(session.Agent({ name: 'A' }).chat(42)).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('stores a turn once when it is retried with the same turn id', async () => {
    const store = new MemorySessionStore();
    const session = new Session({ sessionId: 'idem', store, model: new ScriptedModel() });
    const agent = session.Agent({ name: 'A' });
    await agent.chat('once', { turnId: 't1' });
    await agent.chat('once', { turnId: 't1' });
    expect((await store.load('idem'))!.messages.length).toBe(2);
  });
});

describe('Agent remember', () => {
  const listMemory = () => {
    const records: MemoryRecord[] = [];
    const store: MemoryStore = {
      add: async (input, scope = {}) => {
        const { text, metadata = {} } = typeof input === 'string' ? { text: input } : input;
        const record = {
          id: `m${records.length}`,
          text,
          metadata,
          scope,
          createdAt: new Date().toISOString(),
        };
        records.push(record);
        return record;
      },
      search: async () => [],
      list: async () => records,
      get: async (id) => records.find((record) => record.id === id),
      delete: async () => false,
      clear: async () => 0,
    };
    return { records, store };
  };

  it('keeps each turn as session memories', async () => {
    const { records, store } = listMemory();
    const session = new Session({
      sessionId: 's',
      userId: 'u',
      memory: store,
      model: new ScriptedModel().reply('Noted!'),
    });
    await session.Agent({ name: 'A', remember: true }).chat('I moved to Lisbon');
    expect(records.map(({ text, scope, metadata }) => ({ text, scope, role: metadata.role }))).toEqual([
      { text: 'I moved to Lisbon', scope: { userId: 'u', sessionId: 's' }, role: 'user' },
      { text: 'Noted!', scope: { userId: 'u', sessionId: 's' }, role: 'assistant' },
    ]);
  });

  it('keeps facts extracted by the model in the user scope', async () => {
    const { records, store } = listMemory();
    const model = new ScriptedModel().reply(
      'Welcome to Lisbon!',
      '- The user lives in Lisbon\n- The user is a nurse',
    );
    const session = new Session({ sessionId: 's', userId: 'u', memory: store, model });
    await session.Agent({ name: 'A', remember: 'facts' }).chat('I moved to Lisbon, I work as a nurse');
    expect(records.map(({ text, scope }) => ({ text, scope }))).toEqual([
      { text: 'The user lives in Lisbon', scope: { userId: 'u' } },
      { text: 'The user is a nurse', scope: { userId: 'u' } },
    ]);
    expect(model.requests[1]?.messages[1]?.content).toBe(
      'User: I moved to Lisbon, I work as a nurse\nAssistant: Welcome to Lisbon!',
    );
  });

  it('does not fail a stored turn when remembering fails', async () => {
    const { store } = listMemory();
    store.add = async () => {
      throw new Error('disk full');
    };
    const errors: unknown[] = [];
    const session = new Session({ memory: store, model: new ScriptedModel().reply('ok') });
    const agent = session.Agent({
      name: 'A',
      remember: true,
      onRememberError: (error) => errors.push(error),
    });
    expect(await agent.chat('hi')).toBe('ok');
    expect(errors).toHaveLength(1);
    expect(await session.messages()).toHaveLength(2);
  });
});
