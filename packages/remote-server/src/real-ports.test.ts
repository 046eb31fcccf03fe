import { Knowledge } from '@sessions/knowledge';
import { Memory } from '@sessions/memory';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;
const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  for (const store of opened.splice(0)) await store.close();
});

/** One store per session, made on first use, as a server would keep them. */
function perSession<T extends { close(): Promise<void> }>(make: () => T): (sessionId: string) => T {
  const stores = new Map<string, T>();
  return (sessionId) => {
    let store = stores.get(sessionId);
    if (!store) {
      store = make();
      stores.set(sessionId, store);
      opened.push(store);
    }
    return store;
  };
}

describe('with @sessions/memory and @sessions/knowledge', () => {
  it('serves the reference docs memory and knowledge examples over HTTP', async () => {
    harness = await startHarness({
      agent: { name: 'Research Assistant', memory: true, knowledge: true },
      memory: perSession(() => new Memory()),
      knowledge: perSession(() => new Knowledge()),
    });
    const memory = await harness.call('/sessions/research_session/memory', {
      json: { text: 'User prefers technical explanations' },
    });
    expect(memory.status).toBe(201);
    const memories = await harness.call('/sessions/research_session/memory?q=preferences');
    expect(memories.body.results[0]).toMatchObject({ text: 'User prefers technical explanations' });

    const text = await harness.call('/sessions/research_session/knowledge', {
      json: { text: 'Important finding: AI improves efficiency by 40%' },
    });
    expect(text.status).toBe(201);
    const form = new FormData();
    form.set(
      'file',
      new Blob(['# Research paper\n\nTurbines convert steam into rotation.\n\nEfficiency rose in 2024.\n']),
      'research_paper.md',
    );
    const file = await harness.call('/sessions/research_session/knowledge', { method: 'POST', body: form });
    expect(file.status).toBe(201);
    expect(file.body).toMatchObject({ source: 'research_paper.md', title: 'Research paper' });

    const results = await harness.call('/sessions/research_session/knowledge?q=efficiency%20improvements');
    expect(results.status).toBe(200);
    const sources = results.body.results.map((hit: { source: string }) => hit.source);
    expect(sources).toContain('research_paper.md');
    expect(results.body.results[0]).toMatchObject({
      documentId: expect.any(String),
      chunkIndex: expect.any(Number),
      start: expect.any(Number),
      end: expect.any(Number),
    });

    harness.fake.reply('Efficiency improved by 40%, and you like technical detail.');
    const answer = await harness.agent({
      message: 'A technical explanation of the efficiency finding?',
      session_id: 'research_session',
    });
    expect(answer.status).toBe(200);
    const system = String(harness.fake.chatRequests()[0]!.body.messages[0]!.content);
    expect(system).toContain('User prefers technical explanations');
    expect(system).toContain('AI improves efficiency by 40%');

    expect((await harness.call('/sessions/research_session', { method: 'DELETE' })).status).toBe(204);
    expect((await harness.call('/sessions/research_session/memory?q=preferences')).status).toBe(404);
  });

  it('adds a memory in user scope: seen from every session of that user, only', async () => {
    const shared = new Memory();
    opened.push(shared);
    harness = await startHarness({ memory: () => shared });
    for (const [sessionId, userId] of [
      ['ada_1', 'ada'],
      ['ada_2', 'ada'],
      ['bob_1', 'bob'],
    ]) {
      harness.fake.reply('ok');
      expect((await harness.agent({ message: 'hi', session_id: sessionId, user_id: userId })).status).toBe(
        200,
      );
    }
    const fact = await harness.call('/sessions/ada_1/memory', {
      json: { text: 'Ada prefers metric units', scope: 'user' },
    });
    expect(fact.status).toBe(201);
    expect(fact.body.scope).toEqual({ userId: 'ada' });
    await harness.call('/sessions/ada_1/memory', { json: { text: 'This chat is about metric conversions' } });
    const search = async (sessionId: string): Promise<string[]> =>
      (await harness!.call(`/sessions/${sessionId}/memory?q=metric`)).body.results.map(
        (hit: { text: string }) => hit.text,
      );
    expect((await search('ada_1')).sort()).toEqual([
      'Ada prefers metric units',
      'This chat is about metric conversions',
    ]);
    expect(await search('ada_2')).toEqual(['Ada prefers metric units']);
    expect(await search('bob_1')).toEqual([]);
    const bad = await harness.call('/sessions/ada_1/memory', { json: { text: 'x', scope: 'team' } });
    expect([bad.status, bad.body.error.message]).toEqual([
      400,
      'Invalid body: scope: scope must be "session" or "user"',
    ]);
  });

  it('refuses knowledge it cannot read, with 400', async () => {
    harness = await startHarness({ knowledge: perSession(() => new Knowledge()) });
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array([0, 1, 2, 3, 255, 254])]), 'blob.bin');
    const answer = await harness.call('/sessions/k/knowledge', { method: 'POST', body: form });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_input');
  });
});
