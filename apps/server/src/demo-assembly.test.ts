import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAIChatModel } from '@sessions/openai';
import { type FakeOpenAI, startFakeOpenAI, useTempDir } from '@sessions/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDemoAssembly, DEMO_AGENT_NAME } from './demo-assembly.js';
import { OFFLINE_PREFIX } from './offline-model.js';
import { principalFolderName } from './principal-folder-name.js';
import { PRINCIPAL_MEMORY_FOLDER } from './session-resources.js';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-assembly-' });
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

describe('createDemoAssembly', () => {
  it('answers offline from memory, and remembers the user after a restart', async () => {
    const first = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    expect(first.offline).toBe(true);
    const session = await first.openSession({ sessionId: 'chat_1', userId: 'ada' });
    const agent = session.Agent(first.agent);
    const hello = await agent.chat('Hello! My name is Ada.');
    expect(hello.startsWith(OFFLINE_PREFIX)).toBe(true);
    await first.close();

    expect(existsSync(join(tmp.path, 'sessions.sqlite'))).toBe(true);
    expect(existsSync(join(tmp.path, 'memory.sqlite'))).toBe(true);
    expect(existsSync(join(tmp.path, 'chat_1', 'memory'))).toBe(false);
    expect(existsSync(join(tmp.path, 'chat_1', 'knowledge', 'knowledge.sqlite'))).toBe(true);

    const second = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    const again = await second.openSession({ sessionId: 'chat_1' });
    expect(again.userId).toBe('ada');
    expect(await again.messages()).toHaveLength(2);
    const answer = await again.Agent(second.agent).chat('What is my name?');
    expect(answer).toContain(OFFLINE_PREFIX);
    expect(answer).toContain('• Hello! My name is Ada.');
    await second.close();
  });

  it('keeps its offline answers and past questions out of memory search, so they never crowd out what the user said', async () => {
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    const session = await assembly.openSession({ sessionId: 'chat_2' });
    const agent = session.Agent(assembly.agent);
    await agent.chat('my name is Ada');
    for (let i = 0; i < 6; i += 1) await agent.chat(`what is my name, try ${i}?`);
    const hits = await session.searchMemory('name', { limit: 5 });
    expect(hits.map((hit) => hit.text)).toEqual(['my name is Ada']); // no answers, no questions
    expect(
      (await assembly.resources.memory('chat_2').list()).some((r) => r.text.startsWith(OFFLINE_PREFIX)),
    ).toBe(true);
    expect(await agent.chat('what is my name?')).toContain('• my name is Ada');
    await assembly.close();
  });

  it('answers offline from knowledge with citations', async () => {
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    const session = await assembly.openSession({ sessionId: 'chat_3' });
    await session.addKnowledge({
      text: '# Handbook\n\nEveryone gets 25 days of paid leave.',
      title: 'Handbook',
    });
    const answer = await session.Agent(assembly.agent).chat('How many days of paid leave?');
    expect(answer).toContain('From the knowledge base:');
    expect(answer).toMatch(/\[1\] \(Handbook.*\) .*25 days of paid leave/);
    await assembly.close();
  });

  it('gives a configured model the memories and knowledge in its prompt', async () => {
    const model = new OpenAIChatModel({ apiKey: fake.apiKey, baseURL: fake.url, model: 'm', maxRetries: 0 });
    const assembly = await createDemoAssembly({ dataDir: tmp.path, chatModel: model });
    expect(assembly.offline).toBe(false);
    const session = await assembly.openSession({ sessionId: 'chat_4' });
    const agent = session.Agent(assembly.agent);
    fake.reply('Nice to meet you, Ada.', 'You are Ada.');
    await agent.chat('My name is Ada');
    expect(await agent.chat('What is my name?')).toBe('You are Ada.');
    const system = fake.chatRequests().at(-1)?.body.messages[0];
    expect(system?.role).toBe('system');
    expect(String(system?.content)).toContain(`You are ${DEMO_AGENT_NAME}`);
    expect(String(system?.content)).toContain('Relevant memories:\n- My name is Ada');
    await assembly.close();
  });

  it('deletes a session with its memory and knowledge', async () => {
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    const session = await assembly.openSession({ sessionId: 'chat_5' });
    await session.Agent(assembly.agent).chat('remember me');
    await session.addKnowledge('Some knowledge to keep.');
    await assembly.deleteSession('chat_5');
    expect(existsSync(join(tmp.path, 'chat_5'))).toBe(false);
    expect(await assembly.store.load('chat_5')).toBeUndefined();
    const fresh = await assembly.openSession({ sessionId: 'chat_5' });
    expect(await fresh.searchMemory('remember')).toEqual([]);
    expect(await fresh.searchKnowledge('knowledge')).toEqual([]);
    await assembly.close();
  });

  it('shares one memory: a user-scoped fact reaches every session of that user, session facts stay put', async () => {
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    const first = await assembly.openSession({ sessionId: 'ada_1', userId: 'ada' });
    await first.addMemory('Ada prefers metric units', { scope: 'user' });
    await first.addMemory('This chat plans a metric conversion table');
    const second = await assembly.openSession({ sessionId: 'ada_2', userId: 'ada' });
    const other = await assembly.openSession({ sessionId: 'bob_1', userId: 'bob' });
    expect((await second.searchMemory('metric')).map((hit) => hit.text)).toEqual([
      'Ada prefers metric units',
    ]);
    expect(await other.searchMemory('metric')).toEqual([]);
    expect(await second.Agent(assembly.agent).chat('Which units do I prefer?')).toContain(
      '• Ada prefers metric units',
    );
    // Deleting a session removes its memories only; the user's stay.
    await assembly.deleteSession('ada_1');
    expect((await assembly.resources.memory('ada_2').list()).map((r) => r.text)).toContain(
      'Ada prefers metric units',
    );
    expect(
      (await assembly.resources.memory('ada_2').list({ sessionId: 'ada_1' })).map((r) => r.text),
    ).toEqual(['Ada prefers metric units']);
    await assembly.close();

    const reopened = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    const third = await reopened.openSession({ sessionId: 'ada_3', userId: 'ada' });
    expect((await third.searchMemory('metric')).map((hit) => hit.text)).toEqual(['Ada prefers metric units']);
    await reopened.close();
  });

  it('keeps a memory per session with sharedMemory: false', async () => {
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {}, sharedMemory: false });
    const first = await assembly.openSession({ sessionId: 'ada_1', userId: 'ada' });
    await first.addMemory('Ada prefers metric units', { scope: 'user' });
    const second = await assembly.openSession({ sessionId: 'ada_2', userId: 'ada' });
    expect(await second.searchMemory('metric')).toEqual([]);
    await assembly.close();
    expect(existsSync(join(tmp.path, 'ada_1', 'memory', 'memory.sqlite'))).toBe(true);
    expect(existsSync(join(tmp.path, 'memory.sqlite'))).toBe(false);
  });

  it("keeps a memory per principal with sharedMemory: 'principal': user scope never crosses principals", async () => {
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {}, sharedMemory: 'principal' });
    const alice = { principal: 'alice' };
    const bob = { principal: 'bob' };
    const first = await assembly.openSession({ sessionId: 'a_1', userId: 'same', principal: 'alice' });
    await first.addMemory('Alice keeps her door code 4711', { scope: 'user' });
    const second = await assembly.openSession({ sessionId: 'a_2', userId: 'same', principal: 'alice' });
    expect((await second.searchMemory('door code')).map((hit) => hit.text)).toEqual([
      'Alice keeps her door code 4711',
    ]);
    const other = await assembly.openSession({ sessionId: 'b_1', userId: 'same', principal: 'bob' });
    expect(await other.searchMemory('door code')).toEqual([]);
    // The factory the server calls: one store per principal, the same for each of its sessions.
    expect(assembly.memory('a_1', alice)).toBe(assembly.memory('a_2', alice));
    expect(assembly.memory('a_1', alice)).not.toBe(assembly.memory('a_1', bob));
    expect(await assembly.memory('x', bob).list()).toEqual([]);
    // Deleting a session clears its memories from its owner's memory.
    await first.addMemory('Only in a_1');
    await assembly.deleteSession('a_1', alice);
    expect((await assembly.resources.memory('a_2', 'alice').list()).map((r) => r.text)).toEqual([
      'Alice keeps her door code 4711',
    ]);
    await assembly.close();
    expect(existsSync(join(tmp.path, 'memory.sqlite'))).toBe(false);
    expect(
      existsSync(join(tmp.path, PRINCIPAL_MEMORY_FOLDER, principalFolderName('alice'), 'memory.sqlite')),
    ).toBe(true);

    const reopened = await createDemoAssembly({ dataDir: tmp.path, env: {}, sharedMemory: 'principal' });
    const third = await reopened.openSession({ sessionId: 'a_3', userId: 'same', principal: 'alice' });
    expect((await third.searchMemory('door code')).map((hit) => hit.text)).toEqual([
      'Alice keeps her door code 4711',
    ]);
    await reopened.close();
  });

  it('refuses an unknown store URL and a bad session id', async () => {
    await expect(createDemoAssembly({ dataDir: tmp.path, storeUrl: 'mongodb://x', env: {} })).rejects.toThrow(
      /^Unsupported session store "mongodb:\/\/x": use sqlite \(the default/,
    );
    const assembly = await createDemoAssembly({ dataDir: tmp.path, env: {} });
    await expect(assembly.openSession({ sessionId: '../x' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await assembly.close();
  });
});
