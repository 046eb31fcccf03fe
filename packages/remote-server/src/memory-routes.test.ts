import { afterEach, describe, expect, it } from 'vitest';
import { ANONYMOUS } from './bearer-auth.js';
import { TestKnowledge, TestMemory } from './ports.test-helper.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';
import type { SessionFactoryContext } from './session-access.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('memory routes', () => {
  it('adds memories to a session and searches them; the agent uses them in its prompt', async () => {
    const stores = new Map<string, TestMemory>();
    const memory = (sessionId: string): TestMemory => {
      let store = stores.get(sessionId);
      if (!store) {
        store = new TestMemory();
        stores.set(sessionId, store);
      }
      return store;
    };
    harness = await startHarness({
      memory,
      agent: { name: 'Assistant', instructions: 'Be brief.', memory: true },
    });
    const added = await harness.call('/sessions/chat_123/memory', {
      json: { text: 'User prefers technical explanations', type: 'long', metadata: { source: 'profile' } },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      id: expect.any(String),
      text: 'User prefers technical explanations',
      metadata: { source: 'profile', type: 'long' },
      scope: { sessionId: 'chat_123' },
    });
    await harness.call('/sessions/chat_123/memory', {
      json: { text: 'Meeting notes are short', type: 'short' },
    });

    const found = await harness.call('/sessions/chat_123/memory?q=technical%20preferences&limit=1');
    expect(found.status).toBe(200);
    expect(found.body.results).toHaveLength(1);
    expect(found.body.results[0]).toMatchObject({ text: 'User prefers technical explanations' });
    expect(found.body.results[0].score).toBeGreaterThan(0);
    const onlyShort = await harness.call('/sessions/chat_123/memory?q=notes%20technical&type=short');
    expect(onlyShort.body.results.map((r: { text: string }) => r.text)).toEqual(['Meeting notes are short']);
    const listed = await harness.call('/sessions/chat_123/memory');
    expect(listed.body.memories).toHaveLength(2);

    await harness.agent({ message: 'Explain technical things', session_id: 'chat_123' });
    const system = String(harness.fake.chatRequests()[0]!.body.messages[0]!.content);
    expect(system).toContain('User prefers technical explanations');

    const cleared = await harness.call('/sessions/chat_123/memory?type=short', { method: 'DELETE' });
    expect(cleared.body).toEqual({ deleted: 1 });
    expect((await harness.call('/sessions/chat_123/memory')).body.memories).toHaveLength(1);
  });

  it('validates memory input and keeps other principals out', async () => {
    const memory = new TestMemory();
    harness = await startHarness({ memory: () => memory, auth: { tokens: { a: 'alice', b: 'bob' } } });
    expect((await harness.call('/sessions/m/memory', { json: { text: '' }, token: 'a' })).status).toBe(400);
    expect(
      (await harness.call('/sessions/m/memory', { json: { text: 'x', type: 'medium' }, token: 'a' })).status,
    ).toBe(400);
    expect((await harness.call('/sessions/m/memory', { json: { note: 'x' }, token: 'a' })).status).toBe(400);
    expect((await harness.call('/sessions/m/memory?q=x', { token: 'a' })).status).toBe(404);
    expect(memory.records.size).toBe(0);
    expect(
      (await harness.call('/sessions/m/memory', { json: { text: 'Private fact' }, token: 'a' })).status,
    ).toBe(201);
    expect((await harness.call('/sessions/m/memory?q=private', { token: 'b' })).status).toBe(404);
    expect(
      (await harness.call('/sessions/m/memory', { json: { text: 'Injected' }, token: 'b' })).status,
    ).toBe(404);
    expect((await harness.call('/sessions/m/memory?q=private&limit=0', { token: 'a' })).status).toBe(400);
    expect([...memory.records.values()].map((r) => r.text)).toEqual(['Private fact']);
  });

  it("tells the factories each session's owner, and only once the session is known to be theirs", async () => {
    const asked: string[] = [];
    const stores = new Map<string, TestMemory>();
    // One memory per principal, shared by the principal's sessions.
    const memory = (sessionId: string, { principal }: SessionFactoryContext): TestMemory => {
      asked.push(`memory ${sessionId} ${principal}`);
      let store = stores.get(principal);
      if (!store) {
        store = new TestMemory();
        stores.set(principal, store);
      }
      return store;
    };
    const knowledge = (sessionId: string, context: SessionFactoryContext): TestKnowledge => {
      asked.push(`knowledge ${sessionId} ${context.principal}`);
      return new TestKnowledge();
    };
    harness = await startHarness({
      memory,
      knowledge,
      agent: { name: 'Assistant', memory: true, knowledge: true },
      auth: { tokens: { a: 'alice', b: 'bob' } },
    });
    // Both name user "u": alice's user-scoped memory reaches her other session, never bob's.
    await harness.agent({ message: 'hi', session_id: 'a1', user_id: 'u' }, { token: 'a' });
    const added = await harness.call('/sessions/a1/memory', {
      json: { text: 'Alice likes green tea', scope: 'user' },
      token: 'a',
    });
    expect(added.status).toBe(201);
    expect(added.body.scope).toEqual({ userId: 'u' });
    await harness.agent({ message: 'What tea?', session_id: 'a2', user_id: 'u' }, { token: 'a' });
    await harness.agent({ message: 'What tea?', session_id: 'b1', user_id: 'u' }, { token: 'b' });
    const prompts = harness.fake.chatRequests().map((r) => String(r.body.messages[0]!.content));
    expect(prompts[1]).toContain('Alice likes green tea');
    expect(prompts[2]).not.toContain('Alice likes green tea');
    expect((await harness.agent({ message: 'hi', session_id: 'a1' }, { token: 'b' })).status).toBe(404);
    expect((await harness.call('/sessions/a1/memory', { token: 'b' })).status).toBe(404);
    expect((await harness.call('/sessions/a1', { method: 'DELETE', token: 'b' })).status).toBe(404);

    expect(new Set(asked)).toEqual(
      new Set([
        'memory a1 alice',
        'knowledge a1 alice',
        'memory a2 alice',
        'knowledge a2 alice',
        'memory b1 bob',
        'knowledge b1 bob',
      ]),
    );
    expect([...stores.keys()].sort()).toEqual(['alice', 'bob']);
    expect([...stores.get('bob')!.records.values()].some((r) => r.text.includes('Alice'))).toBe(false);
    expect([...stores.get('alice')!.records.values()].map((r) => r.text)).toContain('Alice likes green tea');
  });

  it("tells the factories 'anonymous' as the owner on a server without auth", async () => {
    const owners: string[] = [];
    const store = new TestMemory();
    harness = await startHarness({
      memory: (_sessionId, { principal }) => {
        owners.push(principal);
        return store;
      },
    });
    expect((await harness.call('/sessions/s/memory', { json: { text: 'A fact' } })).status).toBe(201);
    expect((await harness.call('/sessions/s/memory')).status).toBe(200);
    expect(owners).toEqual([ANONYMOUS, ANONYMOUS]);
    expect(ANONYMOUS).toBe('anonymous');
  });
});
