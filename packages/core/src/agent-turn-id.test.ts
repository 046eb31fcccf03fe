// @sessions/testing resolves through the vitest alias (vitest.shared.ts); core takes no package dependency on it.
import { withoutOptionalMethods } from '@sessions/testing';
import { describe, expect, it } from 'vitest';
import type { ChatOptions, StreamChunk } from './agent.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { Message } from './message.js';
import type { Middleware } from './middleware.js';
import { ScriptedModel } from './scripted-model.test-helper.js';
import { Session } from './session.js';
import type { SessionStore } from './session-store.js';

const stores: Array<{ name: string; make: () => SessionStore }> = [
  { name: 'a store with loadSince', make: () => new MemorySessionStore() },
  { name: 'a store without loadSince', make: () => withoutOptionalMethods(new MemorySessionStore()) },
];

const usage = { inputTokens: 7, outputTokens: 3, totalTokens: 10 };

/** What the store holds for session `s`, message by message. */
async function storedContents(store: SessionStore): Promise<string[]> {
  return (await store.load('s'))!.messages.map((m) => m.content);
}

async function collect(stream: AsyncIterable<StreamChunk>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.delta;
  return text;
}

describe.each(stores)('a retried turn id on $name', ({ make }) => {
  it('answers what the store kept, not the second model answer', async () => {
    const store = make();
    const first = new Session({
      sessionId: 's',
      store,
      model: new ScriptedModel().reply({ content: 'answer #1', usage }),
    });
    const second = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #2') });
    // The second Session (another server, or this one after a restart) has loaded the session already.
    await second.refresh();
    expect(await first.Agent({ name: 'A' }).chat('once', { turnId: 't1' })).toBe('answer #1');

    const replays: Message[] = [];
    const options: ChatOptions = { turnId: 't1', onReplay: (reply) => replays.push(reply) };
    expect(await second.Agent({ name: 'A' }).chat('once', options)).toBe('answer #1');
    expect(replays.map((reply) => [reply.content, reply.metadata?.usage])).toEqual([['answer #1', usage]]);

    const stored = (await store.load('s'))!.messages;
    expect(stored.map((m) => m.content)).toEqual(['once', 'answer #1']);
    // What the second Session holds is the store's history: its own unstored turn is not in it.
    expect(await second.messages()).toEqual(stored);
    expect(second.getContext().messageCount).toBe(2);
  });

  it('answers the stored reply when the retry follows other turns', async () => {
    const store = make();
    const first = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #1') });
    const agent = first.Agent({ name: 'A' });
    await agent.chat('once', { turnId: 't1' });
    await agent.chat('later', { turnId: 't2' });
    const secondModel = new ScriptedModel().reply('answer #2');
    const second = new Session({ sessionId: 's', store, model: secondModel });
    expect(await second.Agent({ name: 'A' }).chat('once', { turnId: 't1' })).toBe('answer #1');
    // The history it loaded holds the turn: the model is not asked again.
    expect(secondModel.requests).toEqual([]);
    expect(await storedContents(store)).toEqual(['once', 'answer #1', 'later', 'echo: later']);
  });

  it('tells a stream of the stored reply when it ends', async () => {
    const store = make();
    const first = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #1') });
    await first.Agent({ name: 'A' }).chat('once', { turnId: 't1' });
    const secondModel = new ScriptedModel().reply('answer #2');
    const second = new Session({ sessionId: 's', store, model: secondModel });
    const replays: string[] = [];
    const streamed = await collect(
      second.Agent({ name: 'A' }).stream('once', { turnId: 't1', onReplay: (m) => replays.push(m.content) }),
    );
    // The stored reply, as one delta; the model is not asked again.
    expect(streamed).toBe('answer #1');
    expect(secondModel.requests).toEqual([]);
    expect(replays).toEqual(['answer #1']);
    expect((await second.messages()).map((m) => m.content)).toEqual(['once', 'answer #1']);
  });

  it('tells a stream of a reply stored while it ran, after its own deltas', async () => {
    const store = make();
    const first = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #1') });
    const second = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #2') });
    // The second Session loaded the session before the first stored the turn (a concurrent retry).
    await second.refresh();
    await first.Agent({ name: 'A' }).chat('once', { turnId: 't1' });
    const replays: string[] = [];
    const streamed = await collect(
      second.Agent({ name: 'A' }).stream('once', { turnId: 't1', onReplay: (m) => replays.push(m.content) }),
    );
    // The deltas were this run's answer; the stored reply is what the turn settled on.
    expect(streamed).toBe('answer #2');
    expect(replays).toEqual(['answer #1']);
    expect((await second.messages()).map((m) => m.content)).toEqual(['once', 'answer #1']);
  });

  it('stores the reply with its turn id, and answers a retry from the history without middleware or model', async () => {
    const store = make();
    const model = new ScriptedModel().reply({ content: 'answer #1', usage }).reply('answer #2');
    const seen: string[] = [];
    const session = new Session({
      sessionId: 's',
      store,
      model,
      middleware: [
        (turn, next) => {
          seen.push(turn.message);
          return next();
        },
      ],
    });
    const agent = session.Agent({ name: 'A' });
    expect(await agent.chat('once', { turnId: 't1' })).toBe('answer #1');
    const stored = (await store.load('s'))!.messages;
    expect(stored.map((m) => [m.role, m.metadata])).toEqual([
      ['user', undefined],
      ['assistant', { usage, turnId: 't1' }],
    ]);

    const replays: Message[] = [];
    expect(await agent.chat('once', { turnId: 't1', onReplay: (m) => replays.push(m) })).toBe('answer #1');
    // After a restart: a new Session on the same store.
    const restarted = new Session({ sessionId: 's', store, model });
    expect(await restarted.Agent({ name: 'A' }).chat('once', { turnId: 't1' })).toBe('answer #1');
    expect(replays.map((m) => m.content)).toEqual(['answer #1']);
    expect(seen).toEqual(['once']);
    expect(model.requests).toHaveLength(1);
    // Another turn id is a new turn.
    expect(await agent.chat('twice', { turnId: 't2' })).toBe('answer #2');
    expect(await storedContents(store)).toEqual(['once', 'answer #1', 'twice', 'answer #2']);
  });

  it('refuses a turn id reused for another message (ConflictError), found in the history or by the store', async () => {
    const store = make();
    const first = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #1') });
    const late = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('answer #2') });
    await late.refresh(); // loaded before the turn was stored: only the store can tell
    await first.Agent({ name: 'A' }).chat('What is 2+2?', { turnId: 't1' });

    const model = new ScriptedModel().reply('answer #3');
    const restarted = new Session({ sessionId: 's', store, model });
    const fromHistory = restarted.Agent({ name: 'A' }).chat('Delete my account', { turnId: 't1' });
    await expect(fromHistory).rejects.toMatchObject({ code: 'conflict', name: 'ConflictError' });
    expect(model.requests).toEqual([]);
    const fromStore = late.Agent({ name: 'A' }).chat('Delete my account', { turnId: 't1' });
    await expect(fromStore).rejects.toMatchObject({ code: 'conflict' });
    expect(await storedContents(store)).toEqual(['What is 2+2?', 'answer #1']);
  });

  it('answers a retry of a turn whose message middleware changed (it cannot be compared)', async () => {
    const store = make();
    const redact: Middleware = (turn, next) => {
      turn.message = turn.message.replace(/\d{4}/g, '[pin]');
      return next();
    };
    const model = new ScriptedModel().reply('noted');
    const session = new Session({ sessionId: 's', store, model, middleware: [redact] });
    expect(await session.Agent({ name: 'A' }).chat('my pin is 1234', { turnId: 't1' })).toBe('noted');
    const stored = (await store.load('s'))!.messages;
    expect(stored.map((m) => [m.content, m.metadata?.turnRewritten])).toEqual([
      ['my pin is [pin]', undefined],
      ['noted', true],
    ]);
    const restarted = new Session({ sessionId: 's', store, model, middleware: [redact] });
    expect(await restarted.Agent({ name: 'A' }).chat('my pin is 1234', { turnId: 't1' })).toBe('noted');
    expect(model.requests).toHaveLength(1);
  });

  it('answers a concurrent retry through middleware that changes the message differently each run', async () => {
    const store = make();
    let runs = 0;
    const numbered: Middleware = (turn, next) => {
      turn.message = `[${++runs}] ${turn.message}`;
      return next();
    };
    const first = new Session({
      sessionId: 's',
      store,
      model: new ScriptedModel().reply('answer #1'),
      middleware: [numbered],
    });
    const second = new Session({
      sessionId: 's',
      store,
      model: new ScriptedModel().reply('answer #2'),
      middleware: [numbered],
    });
    await second.refresh(); // loaded before the first stored the turn
    await first.Agent({ name: 'A' }).chat('hello', { turnId: 't1' });
    expect(await second.Agent({ name: 'A' }).chat('hello', { turnId: 't1' })).toBe('answer #1');
    expect(await storedContents(store)).toEqual(['[1] hello', 'answer #1']);
  });

  it('does not call onReplay for a turn it stored itself', async () => {
    const store = make();
    const session = new Session({ sessionId: 's', store, model: new ScriptedModel().reply('fresh') });
    const replays: Message[] = [];
    expect(
      await session.Agent({ name: 'A' }).chat('hi', { turnId: 't1', onReplay: (m) => replays.push(m) }),
    ).toBe('fresh');
    expect(replays).toEqual([]);
    expect((await session.messages()).map((m) => m.content)).toEqual(['hi', 'fresh']);
  });
});
