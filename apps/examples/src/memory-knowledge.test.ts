// The reference docs' memory and knowledge examples, through Session, with the real Memory and
// Knowledge on SQLite under the session's folder, and the fake OpenAI server behind the agent.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Session } from '@sessions/core';
import { Knowledge } from '@sessions/knowledge';
import { Memory } from '@sessions/memory';
import { OpenAIChatModel } from '@sessions/openai';
import { FsSessionStore } from '@sessions/state-fs';
import { type FakeOpenAI, startFakeOpenAI, useTempDir } from '@sessions/testing';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-mk-' });
let fake: FakeOpenAI;
let model: OpenAIChatModel;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI();
  model = new OpenAIChatModel({ apiKey: fake.apiKey, baseURL: fake.url, model: 'gpt-test', maxRetries: 0 });
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function memoryFor(sessionId: string): Memory {
  const memory = new Memory({ path: join(tmp.path, sessionId, 'memory') });
  closers.push(() => memory.close());
  return memory;
}

function knowledgeFor(sessionId: string): Knowledge {
  const knowledge = new Knowledge({ path: join(tmp.path, sessionId, 'knowledge') });
  closers.push(() => knowledge.close());
  return knowledge;
}

const systemPrompt = (): string => {
  const body = fake.chatRequests().at(-1)?.body as { messages: { role: string; content: string }[] };
  return body.messages.find((message) => message.role === 'system')?.content ?? '';
};

describe('reference: memory integration', () => {
  it('adds and searches memories, and the agent uses them', async () => {
    const session = new Session({
      sessionId: 'chat_123',
      userId: 'user_456',
      store: new FsSessionStore({ root: tmp.path }),
      memory: memoryFor('chat_123'),
      model,
    });
    await session.addMemory('User prefers technical explanations');
    await session.addMemory('User is learning Rust in the evenings');

    const memories = await session.searchMemory('preferences');
    expect(memories[0]?.text).toBe('User prefers technical explanations');
    expect(memories[0]?.score).toBeGreaterThan(0);

    const agent = session.Agent({ name: 'Assistant', memory: true });
    fake.reply('Here is a technical answer.');
    await agent.chat('What explanations do I prefer?');
    expect(systemPrompt()).toContain('User prefers technical explanations');
  });

  it('remembers across restarts, and user memories reach every session of the user', async () => {
    const first = new Session({ sessionId: 's1', userId: 'ada', memory: memoryFor('shared'), model });
    await first.addMemory('Ada lives in Lisbon', { scope: 'user' });
    await first.addMemory('This session is about holidays');
    await (first.memory as Memory).close();

    const memory = memoryFor('shared');
    const second = new Session({ sessionId: 's2', userId: 'ada', memory, model });
    expect((await second.searchMemory('where does Ada live'))[0]?.text).toBe('Ada lives in Lisbon');
    expect(await second.searchMemory('holidays session')).toEqual([]);
    const other = new Session({ sessionId: 's3', userId: 'bob', memory, model });
    expect(await other.searchMemory('Lisbon')).toEqual([]);
  });

  it('clears memories by type', async () => {
    const session = new Session({ sessionId: 'types', memory: memoryFor('types') });
    await session.addMemory('Meeting at 3pm today', { type: 'short' });
    await session.addMemory('Prefers meetings in the afternoon', { type: 'long' });
    expect((await session.searchMemory('meeting', { type: 'short' })).map((m) => m.text)).toEqual([
      'Meeting at 3pm today',
    ]);
    expect(await session.clearMemory('short')).toBe(1);
    expect((await session.searchMemory('meeting')).map((m) => m.text)).toEqual([
      'Prefers meetings in the afternoon',
    ]);
    expect(await session.clearMemory()).toBe(1);
  });
});

describe('reference: knowledge integration', () => {
  it('adds a PDF by path and a text finding, searches them, and the agent cites them', async () => {
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    pdf
      .addPage()
      .drawText('Introduction: we study automation in offices.', { x: 50, y: 700, size: 12, font });
    pdf.addPage().drawText('Results: transformers reduce translation errors by half.', {
      x: 50,
      y: 700,
      size: 12,
      font,
    });
    const paper = join(tmp.path, 'research_paper.pdf');
    await writeFile(paper, await pdf.save());

    const session = new Session({
      sessionId: 'research_session',
      userId: 'researcher_1',
      knowledge: knowledgeFor('research_session'),
      model,
    });
    await session.addKnowledge(paper);
    await session.addKnowledge('Important finding: AI improves efficiency by 40%');

    const results = await session.searchKnowledge('efficiency improvements');
    expect(results[0]?.text).toContain('AI improves efficiency by 40%');
    const translation = await session.searchKnowledge('translation errors');
    expect(translation[0]).toMatchObject({ source: paper, page: 2 });

    const agent = session.Agent({ name: 'Research Assistant', knowledge: true });
    fake.reply('Efficiency improves by 40% [1].');
    await agent.chat('How much does AI improve efficiency?');
    expect(systemPrompt()).toContain('AI improves efficiency by 40%');
  });

  it('builds the context an agent would get', async () => {
    const session = new Session({
      sessionId: 'ctx',
      memory: memoryFor('ctx'),
      knowledge: knowledgeFor('ctx'),
    });
    await session.addMemory('User works on solar panels');
    await session.addKnowledge({
      text: 'Solar panel efficiency peaks at low temperatures.',
      title: 'Solar notes',
    });
    const context = await session.buildContext('solar panels', { maxItems: 3 });
    expect(context).toContain('Relevant memories:\n- User works on solar panels');
    expect(context).toContain('Relevant knowledge:');
    expect(context).toContain('Solar panel efficiency peaks at low temperatures.');
  });
});
