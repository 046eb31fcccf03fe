import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChatModel, type ChatRequest, MemorySessionStore } from '@sessions/core';
import { OpenAIChatModel } from '@sessions/openai';
import { type AgentServerOptions, createAgentServer, type ListeningServer } from '@sessions/remote-server';
import { type FakeOpenAI, startFakeOpenAI } from '@sessions/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caught } from './caught.test-helper.js';
import { startCuttingProxy } from './cutting-proxy.test-helper.js';
import { ListKnowledgeBase, ListMemoryStore } from './list-stores.test-helper.js';
import { RemoteError } from './remote-error.js';
import { RemoteSession } from './remote-session.js';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-0123456789';

let fake: FakeOpenAI;
let modelCalls: ChatRequest[];
let model: ChatModel;
let store: MemorySessionStore;
let knowledge: Map<string, ListKnowledgeBase>;
let listening: ListeningServer[];
let url: string;

/** A real server from createAgentServer on an ephemeral 127.0.0.1 port, the fake OpenAI server behind it. */
async function serve(options: Partial<AgentServerOptions> = {}): Promise<string> {
  const memories = new Map<string, ListMemoryStore>();
  const server = createAgentServer({
    agent: { name: 'Remote Assistant', instructions: 'You are a helpful remote assistant.' },
    model,
    store,
    auth: { tokens: { [ALICE]: 'alice', [BOB]: 'bob' } },
    memory: (sessionId) => {
      if (!memories.has(sessionId)) memories.set(sessionId, new ListMemoryStore());
      return memories.get(sessionId)!;
    },
    knowledge: (sessionId) => {
      if (!knowledge.has(sessionId)) knowledge.set(sessionId, new ListKnowledgeBase());
      return knowledge.get(sessionId)!;
    },
    logger: false,
    ...options,
  });
  const started = await server.listen({ port: 0, host: '127.0.0.1', shutdownTimeoutMs: 2_000 });
  listening.push(started);
  return started.url;
}

beforeEach(async () => {
  fake = await startFakeOpenAI();
  const openai = new OpenAIChatModel({
    apiKey: fake.apiKey,
    baseURL: fake.url,
    model: 'fake-model',
    maxRetries: 0,
  });
  modelCalls = [];
  // The OpenAI model, watched: each call's request (and so its AbortSignal) is kept.
  model = {
    generate: (req) => {
      modelCalls.push(req);
      return openai.generate(req);
    },
    stream: (req) => {
      modelCalls.push(req);
      return openai.stream(req);
    },
  };
  store = new MemorySessionStore();
  knowledge = new Map();
  listening = [];
  url = await serve();
});

afterEach(async () => {
  await Promise.all(listening.map((server) => server.close()));
  await fake.close();
});

function alice(options: { sessionId?: string; timeout?: number; agentUrl?: string; retries?: number } = {}) {
  return new RemoteSession({
    agentUrl: `${url}/agent`,
    headers: { Authorization: `Bearer ${ALICE}` },
    ...options,
  });
}

async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the condition never held');
}

describe('RemoteSession against @sessions/remote-server: the reference docs', () => {
  it('remote.chat("Hello") answers, the session continues, ping() checks /health', async () => {
    const remote = new RemoteSession({
      agentUrl: `${url}/agent`,
      timeout: 60_000,
      headers: { Authorization: `Bearer ${ALICE}` },
    });
    expect(await remote.ping()).toEqual({ status: 'ok' });

    expect(await remote.chat('Hello')).toBe('echo: Hello');
    const sessionId = remote.sessionId;
    expect(sessionId).toMatch(/\S/);

    fake.reply('We were saying hello.');
    expect(await remote.sendMessage('What were we discussing?')).toBe('We were saying hello.');
    expect(remote.sessionId).toBe(sessionId);
    const seen = fake
      .chatRequests()
      .at(-1)
      ?.body.messages.map((m) => m.content);
    expect(seen).toEqual(expect.arrayContaining(['Hello', 'echo: Hello', 'What were we discussing?']));

    const context = await remote.getContext();
    expect(context).toMatchObject({ sessionId, messageCount: 4 });
    expect(context.agents).toContain('Remote Assistant');
    expect((await remote.messages()).map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hello'],
      ['assistant', 'echo: Hello'],
      ['user', 'What were we discussing?'],
      ['assistant', 'We were saying hello.'],
    ]);
  });

  it('continues a named session from another client, reached without a scheme', async () => {
    await alice({ sessionId: 'chat_123' }).chat('My name is Ada');
    const later = alice({ sessionId: 'chat_123', agentUrl: `${url.replace('http://', '')}/agent` });
    fake.reply('Your name is Ada.');
    expect(await later.chat('What is my name?')).toBe('Your name is Ada.');
    expect(
      fake
        .chatRequests()
        .at(-1)
        ?.body.messages.map((m) => m.content),
    ).toContain('My name is Ada');
  });

  it('pages through a long history', async () => {
    const remote = alice({ sessionId: 'long_1' });
    for (let turn = 0; turn < 101; turn++) await remote.chat(`turn ${turn}`);
    const messages = await remote.messages();
    expect(messages).toHaveLength(202);
    expect(messages.at(-1)?.content).toBe('echo: turn 100');
  });
});

describe('RemoteSession against @sessions/remote-server: streaming', () => {
  it('yields the model deltas, then keeps the session', async () => {
    fake.reply({ content: 'Hello from the stream', chunks: ['Hello ', 'from ', 'the ', 'stream'] });
    const remote = alice();
    const deltas: string[] = [];
    for await (const { delta } of remote.stream('Say hello')) deltas.push(delta);
    expect(deltas).toEqual(['Hello ', 'from ', 'the ', 'stream']);
    expect(remote.sessionId).toMatch(/\S/);
    expect((await remote.messages()).map((m) => m.content)).toEqual(['Say hello', 'Hello from the stream']);
  });

  it('leaving the loop cancels the model call, stores nothing, and the session goes on', async () => {
    fake.reply({ content: 'one two three four five six', chunkDelayMs: 300 });
    const remote = alice({ sessionId: 'stream_1' });
    for await (const { delta } of remote.stream('Count')) {
      expect(delta).toBe('one ');
      break;
    }
    await eventually(() => modelCalls[0]?.signal?.aborted === true);
    expect(await remote.chat('Still there?')).toBe('echo: Still there?');
    expect((await remote.messages()).map((m) => m.content)).toEqual(['Still there?', 'echo: Still there?']);
  });

  it('a stream cut by the network throws a typed error, and the server cancels the turn', async () => {
    const proxy = await startCuttingProxy({ host: '127.0.0.1', port: Number(new URL(url).port) });
    try {
      proxy.plan({ cut: 'after', pattern: /event: delta/ });
      fake.reply({ content: 'one two three four', chunkDelayMs: 300 });
      const remote = alice({ sessionId: 'cut_1', agentUrl: `${proxy.url}/agent` });
      const deltas: string[] = [];
      const error = await caught(
        (async () => {
          for await (const { delta } of remote.stream('Count')) deltas.push(delta);
        })(),
      );
      expect(deltas).toEqual(['one ']);
      expect(error).toBeInstanceOf(RemoteError);
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain(`${proxy.url}/agent`);
      await eventually(() => modelCalls[0]?.signal?.aborted === true);
      expect(await remote.messages()).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a model that fails mid-stream gives ModelError after the deltas it wrote', async () => {
    fake.reply({ content: 'one two three four', hangUpAfterChunks: 2 });
    const remote = alice({ sessionId: 'broken_1' });
    const deltas: string[] = [];
    const error = await caught(
      (async () => {
        for await (const { delta } of remote.stream('Count')) deltas.push(delta);
      })(),
    );
    expect(deltas.length).toBeGreaterThan(0);
    expect(error.name).toBe('ModelError');
    expect(error.code).toBe('model_error');
  });
});

describe('RemoteSession against @sessions/remote-server: failures', () => {
  it('times out against a slow model with TimeoutError; the server cancels the call', async () => {
    fake.reply({ content: 'too late', delayMs: 10_000 });
    const remote = alice({ sessionId: 'slow_1', timeout: 300 });
    const error = await caught(remote.chat('Take your time'));
    expect(error.name).toBe('TimeoutError');
    expect(error.message).toBe(`The agent at ${url}/agent did not answer within 300 ms`);
    await eventually(() => modelCalls[0]?.signal?.aborted === true);
    expect(await remote.chat('And now?')).toBe('echo: And now?');
    expect((await remote.messages()).map((m) => m.content)).toEqual(['And now?', 'echo: And now?']);
  });

  it('retries a turn whose answer was lost with the same Idempotency-Key: the model runs once', async () => {
    const proxy = await startCuttingProxy({ host: '127.0.0.1', port: Number(new URL(url).port) });
    try {
      proxy.plan({ cut: 'on-answer' });
      const remote = alice({ sessionId: 'once_1', agentUrl: `${proxy.url}/agent` });
      expect(await remote.chat('Only once')).toBe('echo: Only once');
      const keys = proxy.heads
        .filter((head) => head.startsWith('POST /agent'))
        .map((head) => /idempotency-key: ([^\r]+)/i.exec(head)?.[1]);
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/\S/);
      expect(keys[1]).toBe(keys[0]);
      expect(fake.chatRequests()).toHaveLength(1);
      expect((await remote.messages()).map((m) => m.content)).toEqual(['Only once', 'echo: Only once']);
    } finally {
      await proxy.close();
    }
  });

  it('waits out a 429 of the rate limiter and retries', async () => {
    const limited = await serve({ rateLimit: { limit: 1, windowMs: 1_000 } });
    const remote = alice({ sessionId: 'limited_1', agentUrl: `${limited}/agent` });
    expect(await remote.chat('first')).toBe('echo: first');
    expect(await remote.chat('second')).toBe('echo: second');
    expect(fake.chatRequests()).toHaveLength(2);
  });

  it('a session of another token is not found; a bad token is unauthorized', async () => {
    await alice({ sessionId: 'private_1' }).chat('secret');
    const bob = new RemoteSession({
      agentUrl: `${url}/agent`,
      headers: { Authorization: `Bearer ${BOB}` },
      sessionId: 'private_1',
    });
    const hidden = await caught(bob.messages());
    expect(hidden.name).toBe('NotFoundError');
    expect(hidden.status).toBe(404);

    const stranger = new RemoteSession({
      agentUrl: `${url}/agent`,
      headers: { Authorization: 'Bearer wrong' },
      retries: 0,
    });
    const denied = await caught(stranger.chat('hi'));
    expect(denied).toBeInstanceOf(RemoteError);
    expect(denied.code).toBe('unauthorized');
    expect(denied.status).toBe(401);
  });

  it('a failing model is a ModelError with status 502', async () => {
    fake.reply({ error: { status: 400, message: 'bad request to the provider' } });
    const error = await caught(alice({ sessionId: 'fail_1' }).chat('hi'));
    expect(error.name).toBe('ModelError');
    expect(error.status).toBe(502);
    expect(error.remoteCode).toBe('model_error');
  });

  it('a server without memory answers NotConfiguredError', async () => {
    const bare = await serve({ memory: undefined, knowledge: undefined });
    const remote = alice({ sessionId: 'bare_1', agentUrl: `${bare}/agent` });
    await remote.chat('hi');
    const error = await caught(remote.addMemory('likes tea'));
    expect(error.name).toBe('NotConfiguredError');
    expect(error.status).toBe(501);
  });

  it('ping() names the URL of an agent that is gone', async () => {
    const gone = await serve();
    await listening.pop()?.close();
    const error = await caught(alice({ agentUrl: `${gone}/agent`, retries: 0 }).ping());
    expect(error.message).toBe(`Cannot reach agent at ${gone}/health: connection refused`);
  });
});

describe('RemoteSession against @sessions/remote-server: state, memory, knowledge', () => {
  it('saveState, setState, incrementState, state, restoreState', async () => {
    const remote = alice({ sessionId: 'state_1' });
    await remote.chat('hi');
    await remote.saveState({ topic: 'AI research' });
    await remote.setState('step', 2);
    expect(await remote.incrementState('visits')).toBe(1);
    expect(await remote.incrementState('visits', 2)).toBe(3);
    expect(await remote.state()).toEqual({ topic: 'AI research', step: 2, visits: 3 });
    expect(await alice({ sessionId: 'state_1' }).restoreState()).toEqual({
      topic: 'AI research',
      step: 2,
      visits: 3,
    });
    expect(await remote.getState('step', 0)).toBe(2);
  });

  it('addMemory, searchMemory, clearMemory', async () => {
    const remote = alice({ sessionId: 'memory_1' });
    await remote.chat('hi');
    const record = await remote.addMemory('User prefers technical explanations');
    expect(record).toMatchObject({ text: 'User prefers technical explanations', metadata: { type: 'long' } });
    await remote.addMemory('Meeting moved to Friday', { type: 'short', metadata: { source: 'calendar' } });
    const hits = await remote.searchMemory('technical explanations preferences');
    expect(hits[0]?.text).toBe('User prefers technical explanations');
    expect(await remote.searchMemory('meeting friday', { type: 'long' })).toEqual([]);
    expect((await remote.listMemories()).map((m) => m.text)).toEqual([
      'User prefers technical explanations',
      'Meeting moved to Friday',
    ]);
    expect((await remote.listMemories({ type: 'short' })).map((m) => m.text)).toEqual([
      'Meeting moved to Friday',
    ]);
    expect(await remote.clearMemory('short')).toBe(1);
    expect(await remote.clearMemory()).toBe(1);
    expect(await remote.listMemories()).toEqual([]);
  });

  it('addKnowledge of text, of a local file (uploaded, never its path), searchKnowledge', async () => {
    const remote = alice({ sessionId: 'knowledge_1' });
    await remote.chat('hi');
    await remote.addKnowledge('Important finding: AI improves efficiency by 40%');
    const dir = await mkdtemp(join(tmpdir(), 'remote-client-e2e-'));
    try {
      const file = join(dir, 'research_paper.md');
      await writeFile(file, 'The paper measures efficiency improvements in support teams.');
      const doc = await remote.addKnowledge(file, { id: 'paper' });
      expect(doc).toMatchObject({ id: 'paper', source: 'research_paper.md' });
      const received = knowledge.get('knowledge_1')?.received.at(-1);
      expect(received?.source).toBeInstanceOf(Uint8Array);
      expect(received?.options?.filename).toBe('research_paper.md');
      expect(JSON.stringify(knowledge.get('knowledge_1')?.received)).not.toContain(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const results = await remote.searchKnowledge('efficiency improvements', { limit: 5 });
    expect(results.map((hit) => hit.source).sort()).toEqual(['research_paper.md', 'text']);

    const documents = await remote.listKnowledge();
    expect(documents.map((doc) => doc.source).sort()).toEqual(['research_paper.md', 'text']);
    await remote.removeKnowledge('paper');
    expect((await remote.listKnowledge()).map((doc) => doc.id)).not.toContain('paper');
    expect((await caught(remote.removeKnowledge('paper'))).name).toBe('NotFoundError');
    expect((await caught(remote.removeKnowledge(''))).code).toBe('invalid_input');
  });

  it('delete() removes the session', async () => {
    const remote = alice({ sessionId: 'gone_1' });
    await remote.chat('hi');
    await remote.delete();
    expect((await caught(remote.getContext())).name).toBe('NotFoundError');
    expect((await caught(remote.delete())).name).toBe('NotFoundError');
  });

  it('delete() and removeKnowledge() whose answer was lost resolve when the retry finds it gone', async () => {
    const remote = alice({ sessionId: 'lost_1' });
    await remote.chat('hi');
    await remote.addKnowledge('A note to remove', { id: 'note' });
    const proxy = await startCuttingProxy({ host: '127.0.0.1', port: Number(new URL(url).port) });
    try {
      const cut = alice({ sessionId: 'lost_1', agentUrl: `${proxy.url}/agent` });
      proxy.plan({ cut: 'on-answer' });
      await cut.removeKnowledge('note');
      proxy.plan({ cut: 'on-answer' });
      await cut.delete();
      const deletes = proxy.heads.filter((head) => head.startsWith('DELETE '));
      expect(deletes.map((head) => head.slice(0, head.indexOf(' HTTP/')))).toEqual([
        'DELETE /sessions/lost_1/knowledge/note',
        'DELETE /sessions/lost_1/knowledge/note',
        'DELETE /sessions/lost_1',
        'DELETE /sessions/lost_1',
      ]);
    } finally {
      await proxy.close();
    }
    expect((await caught(remote.getContext())).name).toBe('NotFoundError');
  });
});
